"""``user-segmentation``: the ``pipeline``, ``connector``, ``validate`` and ``api`` commands."""

from __future__ import annotations

import json
from datetime import date
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
from user_segmentation import PRODUCT
from user_segmentation.config import load_segmentation_config
from user_segmentation.pipeline import USER_SEGMENTATION, build_pipeline, spark_session, yesterday
from user_segmentation.serving.app import create_app

STEPS = ("topics", "identity", "operational", "features", "segments")

app = typer.Typer(help=f"{PRODUCT}: {USER_SEGMENTATION.description}")
console = Console()


@app.command("pipeline")
def pipeline_command(
    as_of: Annotated[
        str | None, typer.Option(help="Last UTC day to compute (YYYY-MM-DD); default yesterday.")
    ] = None,
    first_day: Annotated[
        str | None, typer.Option(help="On an empty lake, the first day to compute (YYYY-MM-DD).")
    ] = None,
    step: Annotated[list[str] | None, typer.Option(help=f"Run only these steps: {', '.join(STEPS)}.")] = None,
) -> None:
    """Run topics → identity and operational sources → features → segments (rule segments, then
    clusters) once; the run is reported to platform.pipeline_runs.v1 like every product's."""
    configure_logging(PRODUCT)
    settings = LakehouseSettings()
    last = date.fromisoformat(as_of) if as_of else yesterday()
    pipeline = build_pipeline(
        load_segmentation_config(),
        spark=spark_session,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        lake_root=settings.lake_root,
        as_of=lambda: last,
        first_day=date.fromisoformat(first_day) if first_day else None,
        settings=settings,
    )
    recorder = JsonLinesRecorder(settings.state_dir / "pipeline_runs" / f"{PRODUCT}.jsonl")
    catalog = product_catalog(USER_SEGMENTATION, lake_root=settings.lake_root)
    with platform_recorders(settings, catalog=catalog) as reporting:
        run = run_pipeline(pipeline, only=step, recorders=[recorder, *reporting])
    for task in run.tasks:
        colour = {"succeeded": "green", "failed": "red"}.get(task.status, "yellow")
        shown = {k: v for k, v in task.outputs.items() if k not in REPORTED_COUNTS}
        detail = json.dumps(shown, default=str) if shown else (task.error or "")
        console.print(f"  [{colour}]{task.status:>9}[/] {task.name:<9} {detail}")
    if run.status != "succeeded":
        raise typer.Exit(1)


@app.command()
def connector() -> None:
    """Register (or update) the Debezium connector of ``operational.cdc`` on the stack's Kafka
    Connect, for the stack's PostgreSQL, and wait until it runs; the pipeline then reads its
    topics."""
    from lakehouse_core.kafka.connect import ConnectError
    from user_segmentation.processing.operational_jobs import register_connector

    configure_logging(PRODUCT)
    settings = LakehouseSettings()
    try:
        name = register_connector(load_segmentation_config().operational.cdc, settings)
    except ConnectError as exc:
        console.print(f"[red]connector not registered:[/] {exc} (is the stack up? `lakehouse stack up`)")
        raise typer.Exit(1) from exc
    console.print(f"connector {name} running on {settings.connect_url}")


@app.command()
def validate() -> None:
    """Check every segment's predicate against the features schema with Spark's parser."""
    from user_segmentation.processing.segments import validate_segments

    config = load_segmentation_config()
    validate_segments(spark_session(), config.segments)
    console.print(f"{len(config.segments)} segments valid: {', '.join(config.segments)}")


@app.command()
def api() -> None:
    """Serve the REST API over gold (OpenAPI docs at /docs, metrics at /metrics)."""
    configure_logging(PRODUCT)
    config, settings = load_segmentation_config(), LakehouseSettings()
    uvicorn.run(
        create_app(config, lake_root=settings.lake_root), host=config.serving.host, port=config.serving.port
    )


main = command_line(app)
