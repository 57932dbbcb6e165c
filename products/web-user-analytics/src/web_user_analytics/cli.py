"""``web-user-analytics``: run the collector, the pipeline and the API; generate traffic; check counts."""

from __future__ import annotations

import json
from datetime import date, timedelta
from functools import cache
from importlib.metadata import version
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from rich.console import Console

from lakehouse_core.collector import CollectorConfig, create_collector_app
from lakehouse_core.errors import LakehouseError
from lakehouse_core.http_server import serve_in_thread
from lakehouse_core.segment_client import SegmentClient
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.structured_logging import configure_logging
from lakehouse_platform.orchestrator import JsonLinesRecorder, run_pipeline
from web_user_analytics import PRODUCT
from web_user_analytics.config import WebConfig, load_web_config
from web_user_analytics.ingestion.generator import generate_day
from web_user_analytics.monitoring.reconciliation import reconcile
from web_user_analytics.pipeline import STEPS, build_pipeline
from web_user_analytics.serving.app import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pyspark.sql import SparkSession

app = typer.Typer(help="web-user-analytics: web traffic to sessions, traffic, funnels and retention.")
console = Console()
errors = Console(stderr=True)


def collector_app(config: WebConfig, settings: LakehouseSettings) -> FastAPI:
    keys = [k.get_secret_value() for k in config.collector.write_keys]
    if not keys:
        raise LakehouseError("no write keys: set WEB_COLLECTOR__WRITE_KEYS to a JSON list of keys")
    return create_collector_app(
        CollectorConfig(
            service=f"{PRODUCT}-collector",
            version=version(PRODUCT),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            events_topic=config.topics["events"].name,
            dead_letter_topic=config.topics["dead_letter"].name,
            write_keys=keys,
        )
    )


@cache
def _spark() -> SparkSession:
    from lakehouse_core.spark import build_spark_session

    return build_spark_session(PRODUCT, settings=LakehouseSettings())


def _run_pipeline(config: WebConfig, settings: LakehouseSettings, only: list[str] | None) -> bool:
    pipeline = build_pipeline(
        config, spark=_spark, bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=settings.lake_root
    )
    recorder = JsonLinesRecorder(settings.state_dir / "pipeline_runs" / f"{PRODUCT}.jsonl")
    run = run_pipeline(pipeline, only=only, recorder=recorder)
    for task in run.tasks:
        colour = {"succeeded": "green", "failed": "red"}.get(task.status, "yellow")
        detail = json.dumps(task.outputs) if task.outputs else (task.error or "")
        console.print(f"  [{colour}]{task.status:>9}[/] {task.name:<7} {detail}")
    return run.status == "succeeded"


@app.command()
def collector() -> None:
    """Serve the Segment-compatible collector (POST /v1/batch, /v1/track, ...)."""
    configure_logging(PRODUCT)
    config, settings = load_web_config(), LakehouseSettings()
    uvicorn.run(collector_app(config, settings), host=config.collector.host, port=config.collector.port)


@app.command()
def api() -> None:
    """Serve the REST API over gold (OpenAPI docs at /docs)."""
    configure_logging(PRODUCT)
    config, settings = load_web_config(), LakehouseSettings()
    uvicorn.run(
        create_app(config, lake_root=settings.lake_root), host=config.serving.host, port=config.serving.port
    )


@app.command()
def pipeline(
    step: Annotated[list[str] | None, typer.Option(help=f"Run only these steps: {', '.join(STEPS)}.")] = None,
) -> None:
    """Run topics → bronze → silver → gold once, incrementally (only new data is processed)."""
    configure_logging(PRODUCT)
    if not _run_pipeline(load_web_config(), LakehouseSettings(), step):
        raise typer.Exit(1)


@app.command()
def generate(
    day: Annotated[str, typer.Option(help="UTC day to generate, YYYY-MM-DD (default: yesterday).")] = "",
    visitors: Annotated[int, typer.Option(min=1)] = 2000,
    seed: Annotated[int, typer.Option()] = 7,
    url: Annotated[str, typer.Option(help="Collector base URL (default: the configured one).")] = "",
) -> None:
    """Send a generated, seeded day of realistic web traffic through the collector."""
    config = load_web_config()
    keys = config.collector.write_keys
    if not keys:
        errors.print("[red]no write key:[/] set WEB_COLLECTOR__WRITE_KEYS")
        raise typer.Exit(1)
    target = url or f"http://{config.collector.host}:{config.collector.port}"
    when = date.fromisoformat(day) if day else date.today() - timedelta(days=1)
    messages = generate_day(when, visitors=visitors, seed=seed)
    with SegmentClient(target, keys[0].get_secret_value()) as client:
        report = client.send(messages)
    console.print(f"sent {report.messages} events for {when} in {report.batches} batches to {target}")


@app.command("reconcile")
def reconcile_command() -> None:
    """Check that Kafka, bronze, silver and quarantine counts add up."""
    settings = LakehouseSettings()
    counts = reconcile(
        load_web_config(), bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=settings.lake_root
    )
    console.print_json(counts.model_dump_json())
    if not counts.balanced:
        errors.print("[red]counts do not reconcile[/]: kafka = bronze = silver + quarantine does not hold")
        raise typer.Exit(1)


@app.command()
def demo(
    visitors: Annotated[int, typer.Option(min=1)] = 2000,
    seed: Annotated[int, typer.Option()] = 7,
    serve: Annotated[bool, typer.Option(help="Start the API afterwards and keep it running.")] = True,
) -> None:
    """A generated day through collector → Kafka → bronze → silver → gold, then the API."""
    configure_logging(PRODUCT)
    config, settings = load_web_config(), LakehouseSettings()
    day = date.today() - timedelta(days=1)
    if not _run_pipeline(config, settings, ["topics"]):
        raise typer.Exit(1)
    with serve_in_thread(
        collector_app(config, settings), host=config.collector.host, port=config.collector.port
    ) as url:
        messages = generate_day(day, visitors=visitors, seed=seed)
        with SegmentClient(url, config.collector.write_keys[0].get_secret_value()) as client:
            report = client.send(messages)
        console.print(
            f"collector {url} accepted {report.messages} events of {day} ({report.batches} batches)"
        )
        ok = _run_pipeline(config, settings, None)
    counts = reconcile(
        config, bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=settings.lake_root
    )
    console.print(f"counts: {counts.model_dump()} reconciled={counts.balanced}")
    if not ok:
        raise typer.Exit(1)
    if serve:
        base = f"http://{config.serving.host}:{config.serving.port}"
        console.print(
            f"API: {base}/docs  ·  {base}/v1/traffic?start={day}&end={day}  ·  "
            f"{base}/v1/pages/top?start={day}&end={day}  ·  {base}/metrics"
        )
        uvicorn.run(
            create_app(config, lake_root=settings.lake_root),
            host=config.serving.host,
            port=config.serving.port,
        )
