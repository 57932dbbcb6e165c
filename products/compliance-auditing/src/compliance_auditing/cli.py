"""``compliance-auditing``: the ``pipeline``, ``api``, ``verify`` and ``erase`` commands."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from compliance_auditing import PRODUCT
from compliance_auditing.config import load_compliance_config
from compliance_auditing.pipeline import COMPLIANCE_AUDITING, build_pipeline, spark_session
from compliance_auditing.processing.verify import verify_day
from compliance_auditing.serving.app import create_app
from lakehouse_core.process_exit import command_line
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.structured_logging import configure_logging
from lakehouse_platform.catalog import load_catalog, product_catalog
from lakehouse_platform.orchestrator import REPORTED_COUNTS, JsonLinesRecorder, run_pipeline
from lakehouse_platform.run_reporting import platform_recorders

STEPS = ("topics", "bronze", "silver", "accesses_daily", "erasure")

app = typer.Typer(help=f"{PRODUCT}: {COMPLIANCE_AUDITING.description}")
console = Console()


@app.command("pipeline")
def pipeline_command(
    step: Annotated[list[str] | None, typer.Option(help=f"Run only these steps: {', '.join(STEPS)}.")] = None,
) -> None:
    """Run topics → bronze → silver → accesses_daily, and erasure, once, incrementally; the run
    is reported to platform.pipeline_runs.v1 like every product's."""
    configure_logging(PRODUCT)
    settings = LakehouseSettings()
    pipeline = build_pipeline(
        load_compliance_config(),
        spark=spark_session,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        lake_root=settings.lake_root,
    )
    recorder = JsonLinesRecorder(settings.state_dir / "pipeline_runs" / f"{PRODUCT}.jsonl")
    catalog = product_catalog(COMPLIANCE_AUDITING, lake_root=settings.lake_root)
    with platform_recorders(settings, catalog=catalog) as reporting:
        run = run_pipeline(pipeline, only=step, recorders=[recorder, *reporting])
    for task in run.tasks:
        colour = {"succeeded": "green", "failed": "red"}.get(task.status, "yellow")
        shown = {k: v for k, v in task.outputs.items() if k not in REPORTED_COUNTS}
        detail = json.dumps(shown) if shown else (task.error or "")
        console.print(f"  [{colour}]{task.status:>9}[/] {task.name:<14} {detail}")
    if run.status != "succeeded":
        raise typer.Exit(1)


@app.command()
def verify(day: Annotated[str, typer.Option("--day", help="The UTC day of the chain, YYYY-MM-DD.")]) -> None:
    """Recompute the day's audit chain from the stored links and its root; exit 1 naming the
    first broken link, 0 when intact."""
    try:
        when = date.fromisoformat(day)
    except ValueError as exc:
        raise typer.BadParameter(f"{day!r} is not a date YYYY-MM-DD", param_hint="--day") from exc
    result = verify_day(LakehouseSettings().lake_root, when)
    if result.intact:
        console.print(f"{when}: intact, {result.links} links, root {result.root_hash}")
        return
    console.print(f"[red]{when}: broken at {result.broken}[/]", soft_wrap=True)
    raise typer.Exit(1)


@app.command()
def erase(
    request: Annotated[
        str | None,
        typer.Option(help="Execute this request (also a failed one, again); default: every pending one."),
    ] = None,
) -> None:
    """Execute erasure requests now across every installed product's tables and issue their
    certificates."""
    from compliance_auditing.processing.erase import execute_erasures
    from compliance_auditing.storage.requests import request_states

    configure_logging(PRODUCT)
    settings = LakehouseSettings()
    if request is not None and request not in request_states(settings.lake_root, request):
        raise typer.BadParameter(
            f"no erasure request {request!r} under {settings.lake_root}", param_hint="--request"
        )
    run = execute_erasures(
        spark_session(),
        load_catalog(lake_root=settings.lake_root),
        load_compliance_config(),
        lake_root=settings.lake_root,
        request_id=request,
        bootstrap_servers=settings.kafka_bootstrap_servers,
    )
    console.print(f"{run.executed} requests executed: {run.completed} completed, {run.failed} failed")
    if run.failed:
        raise typer.Exit(1)


@app.command("reapply-erasures")
def reapply_erasures_command(
    restored: Annotated[
        str | None,
        typer.Option(
            help="The lake root a restore wrote into (`lakehouse backup restore --to`); default the lake."
        ),
    ] = None,
) -> None:
    """Apply every completed erasure again to the tables of restores not handled yet."""
    from compliance_auditing.processing.reapply import reapply_erasures

    configure_logging(PRODUCT)
    settings = LakehouseSettings()
    done = reapply_erasures(
        spark_session(),
        load_catalog(lake_root=settings.lake_root),
        lake_root=settings.lake_root,
        restored_root=restored,
    )
    console.print(
        f"{done.restores} restores: erasures applied again to {done.tables} tables, "
        f"{done.rows_deleted} rows deleted"
    )


@app.command()
def api() -> None:
    """Serve the REST API (OpenAPI docs at /docs)."""
    configure_logging(PRODUCT)
    config, settings = load_compliance_config(), LakehouseSettings()
    uvicorn.run(
        create_app(config, lake_root=settings.lake_root), host=config.serving.host, port=config.serving.port
    )


main = command_line(app)
