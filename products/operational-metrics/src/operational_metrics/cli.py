"""``operational-metrics``: the ``pipeline``, ``api`` and ``report`` commands."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from lakehouse_core.process_exit import command_line
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.structured_logging import configure_logging
from lakehouse_platform.catalog import product_catalog
from lakehouse_platform.orchestrator import REPORTED_COUNTS, JsonLinesRecorder, run_pipeline
from lakehouse_platform.run_reporting import platform_recorders
from operational_metrics import PRODUCT
from operational_metrics.config import load_ops_config
from operational_metrics.pipeline import OPERATIONAL_METRICS, build_pipeline, spark_session
from operational_metrics.report import write_report
from operational_metrics.serving.app import create_app

STEPS = (
    "topics",
    "bronze",
    "silver",
    "run_stats",
    "freshness",
    "sla_compliance",
    "incidents",
    "cost",
    "anomalies",
)

app = typer.Typer(help=f"{PRODUCT}: {OPERATIONAL_METRICS.description}")
console = Console()


@app.command("pipeline")
def pipeline_command(
    step: Annotated[list[str] | None, typer.Option(help=f"Run only these steps: {', '.join(STEPS)}.")] = None,
) -> None:
    """Run topics → bronze → silver → run_stats, freshness, sla_compliance, incidents, cost and
    anomalies once, incrementally; the run is reported to platform.pipeline_runs.v1 like every
    product's."""
    configure_logging(PRODUCT)
    settings = LakehouseSettings()
    pipeline = build_pipeline(
        load_ops_config(),
        spark=spark_session,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        lake_root=settings.lake_root,
    )
    recorder = JsonLinesRecorder(settings.state_dir / "pipeline_runs" / f"{PRODUCT}.jsonl")
    catalog = product_catalog(OPERATIONAL_METRICS, lake_root=settings.lake_root)
    with platform_recorders(settings, catalog=catalog) as reporting:
        run = run_pipeline(pipeline, only=step, recorders=[recorder, *reporting])
    for task in run.tasks:
        colour = {"succeeded": "green", "failed": "red"}.get(task.status, "yellow")
        shown = {k: v for k, v in task.outputs.items() if k not in REPORTED_COUNTS}
        detail = json.dumps(shown) if shown else (task.error or "")
        console.print(f"  [{colour}]{task.status:>9}[/] {task.name:<9} {detail}")
    if run.status != "succeeded":
        raise typer.Exit(1)


@app.command()
def api() -> None:
    """Serve the REST API over gold and silver runs (OpenAPI docs at /docs, gauges at /metrics)."""
    configure_logging(PRODUCT)
    config, settings = load_ops_config(), LakehouseSettings()
    uvicorn.run(
        create_app(config, lake_root=settings.lake_root), host=config.serving.host, port=config.serving.port
    )


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"'{value}' is not an ISO date (YYYY-MM-DD)") from exc


@app.command()
def report(
    day: Annotated[str | None, typer.Option(help="The UTC day to show (YYYY-MM-DD); default today.")] = None,
    out: Annotated[Path, typer.Option(help="Where to write the HTML page.")] = Path("report.html"),
) -> None:
    """Write one day of gold as a self-contained HTML page of charts: freshness against the SLA
    per table, run durations per asset with failures marked, incidents, SLA compliance, cost per
    product and the anomalies of the day."""
    shown = _day(day) if day else datetime.now(tz=UTC).date()
    gold = write_report(LakehouseSettings().lake_root, shown, out)
    console.print(
        f"wrote {out}: {len({r['table_name'] for r in gold.freshness})} tables, "
        f"{len(gold.run_stats)} assets, {len(gold.incidents)} incidents, "
        f"{len(gold.anomalies)} anomalies on {shown}",
        soft_wrap=True,
    )


main = command_line(app)
