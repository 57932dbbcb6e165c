"""``lakehouse``: the platform's command line (local stack, topics, smoke pipeline)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lakehouse_core.errors import LakehouseError
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics, list_topics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.stack.kafka_broker import BrokerConfig, BrokerStatus, LocalKafkaBroker
from lakehouse_platform.topics import describe_topic

app = typer.Typer(help="The data platform's command line.", no_args_is_help=True)
stack = typer.Typer(help="The local stack: a single-node Kafka broker (KRaft).", no_args_is_help=True)
app.add_typer(stack, name="stack")
topics = typer.Typer(
    help="Kafka topics: list, create, describe (the broker never creates a topic on first produce).",
    no_args_is_help=True,
)
app.add_typer(topics, name="topics")

console = Console()
errors = Console(stderr=True)

PortOption = Annotated[int | None, typer.Option(help="Broker client port [env: LAKEHOUSE_KAFKA_PORT].")]
BootstrapOption = Annotated[
    str | None,
    typer.Option(help="Kafka bootstrap servers [default: the local stack's, from LAKEHOUSE_KAFKA_*]."),
]


def _broker(port: int | None = None) -> LocalKafkaBroker:
    settings = LakehouseSettings() if port is None else LakehouseSettings(kafka_port=port)
    return LocalKafkaBroker(BrokerConfig.from_settings(settings))


def _show(status: BrokerStatus) -> None:
    table = Table(title="kafka", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("state", "[green]running[/]" if status.running else "[red]stopped[/]")
    table.add_row("pid", str(status.pid or "-"))
    table.add_row("bootstrap", status.bootstrap_servers)
    table.add_row("data", status.data_dir)
    table.add_row("log", status.log_file)
    console.print(table)


@stack.command("up")
def stack_up(
    port: PortOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 90.0,
) -> None:
    """Start the local Kafka broker (no-op when it already runs) and wait until it answers."""
    broker = _broker(port)
    was_running = broker.status().running
    try:
        status = broker.start(timeout=timeout)
    except LakehouseError as exc:
        errors.print(f"[red]stack up failed:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print("Kafka broker already running." if was_running else "Kafka broker started.")
    _show(status)


@stack.command("down")
def stack_down(
    port: PortOption = None,
    purge: Annotated[bool, typer.Option(help="Also delete the broker's topics and data.")] = False,
) -> None:
    """Stop the local Kafka broker gracefully."""
    broker = _broker(port)
    if purge:
        broker.purge()
        console.print(f"Kafka broker stopped and its storage deleted ({broker.state_dir}).")
        return
    console.print("Kafka broker stopped." if broker.stop() else "Kafka broker was not running.")


@stack.command("status")
def stack_status(
    port: PortOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Say what runs and where. Exit code 0 when the broker runs, 3 when it does not."""
    status = _broker(port).status()
    if as_json:
        print(json.dumps(asdict(status)))
    else:
        _show(status)
    if not status.running:
        raise typer.Exit(3)


def _bootstrap(bootstrap: str | None) -> str:
    return bootstrap or LakehouseSettings().kafka_bootstrap_servers


@topics.command("list")
def topics_list(bootstrap: BootstrapOption = None) -> None:
    """List the topics (internal ones, starting with '__', left out)."""
    try:
        names = list_topics(_bootstrap(bootstrap))
    except LakehouseError as exc:
        errors.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    for name in sorted(names):
        console.print(name)


@topics.command("create")
def topics_create(
    name: Annotated[str, typer.Argument(help="Topic name, e.g. web.events.v1.")],
    partitions: Annotated[int, typer.Option(min=1)] = 3,
    retention_ms: Annotated[int | None, typer.Option(min=1, help="retention.ms of the topic.")] = None,
    bootstrap: BootstrapOption = None,
) -> None:
    """Create a topic; no-op (and says so) when it exists."""
    config = {"retention.ms": str(retention_ms)} if retention_ms else {}
    try:
        created = ensure_topics(
            _bootstrap(bootstrap), [TopicSpec(name, partitions=partitions, config=config)]
        )
    except LakehouseError as exc:
        errors.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(f"created {name}" if created else f"{name} exists already (unchanged)")


@topics.command("describe")
def topics_describe(
    name: Annotated[str, typer.Argument(help="Topic name.")],
    bootstrap: BootstrapOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Partitions with leader and offsets, record count, and the topic's own configuration."""
    try:
        described = describe_topic(_bootstrap(bootstrap), name)
    except LakehouseError as exc:
        errors.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    if as_json:
        print(json.dumps({**asdict(described), "records": described.records}))
        return
    table = Table(title=f"{name}: {described.records} records", title_justify="left")
    for column in ("partition", "leader", "low", "high", "records"):
        table.add_column(column, justify="right")
    for p in described.partitions:
        table.add_row(*(str(v) for v in (p.partition, p.leader, p.low, p.high, p.records)))
    console.print(table)
    for key, value in sorted(described.config.items()):
        console.print(f"  {key} = {value}")


@app.command("smoke")
def smoke(events: Annotated[int, typer.Option(min=1, help="Events to send.")] = 1000) -> None:
    """Run the smoke pipeline: Kafka → Spark → Delta → delta-rs, and check every event."""
    from lakehouse_platform.smoke import run_smoke

    try:
        report = run_smoke(LakehouseSettings(), events=events)
    except LakehouseError as exc:
        errors.print(f"[red]smoke pipeline failed:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print_json(json.dumps({**asdict(report), "ok": report.ok}))
    if not report.ok:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
