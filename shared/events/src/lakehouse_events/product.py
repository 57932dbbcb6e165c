"""What every event product runs, written once: its task graph and its command line.

An event product (tracking SDKs → collector → Kafka → bronze → silver → gold → REST) describes
itself as an :class:`EventProduct`; :func:`event_pipeline` builds its orchestrated task graph
and :func:`product_cli` its command line (``collector``, ``api``, ``pipeline``, ``backfill``,
``ingest``, ``generate``, ``import``, ``reconcile``, ``compact``, ``demo``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from lakehouse_core.config import CollectorSettings, ServingConfig, TopicConfig
from lakehouse_core.delta import compact as compact_table
from lakehouse_core.errors import LakehouseError
from lakehouse_core.http_server import serve, serve_in_thread
from lakehouse_core.incremental import BatchFunction, IncrementalRun, run_on_changes
from lakehouse_core.ingestion.bronze import (
    BronzeIngestion,
    product_bronze,
    run_bronze_ingestion,
    start_bronze_stream,
)
from lakehouse_core.ingestion.deduplication import DUPLICATE_RULE
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.structured_logging import configure_logging
from lakehouse_core.tables import KAFKA_UPSTREAM, Layer, TableSpec
from lakehouse_events.backfill import run_backfill
from lakehouse_events.collector.app import CollectedProductConfig, product_collector_app
from lakehouse_events.demo import DemoSeeds, quarantine_by_rule
from lakehouse_events.history_import import describe_report, import_history, write_refused
from lakehouse_events.reconciliation import Reconciliation, reconcile
from lakehouse_events.refinement import Refinement, RefinementError, RefinementSteps, run_refinement
from lakehouse_events.segment import EventTimeWindow
from lakehouse_events.segment_client import SegmentClient, as_replay
from lakehouse_platform.backfill import (
    DEFAULT_CHUNK_DAYS,
    MAX_DAYS,
    BackfillRangeError,
    day_range,
    spans,
)
from lakehouse_platform.backfill import TASK as BACKFILL_TASK
from lakehouse_platform.catalog import product_catalog
from lakehouse_platform.orchestrator import (
    REPORTED_COUNTS,
    JsonLinesRecorder,
    Pipeline,
    RunContext,
    RunRecorder,
    Task,
    run_pipeline,
)
from lakehouse_platform.ports import Binding, taken_ports
from lakehouse_platform.run_reporting import platform_recorders
from lakehouse_platform.task_reports import quarantined_by_rule, versions_before, written_since

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pyspark.sql import SparkSession

    from lakehouse_platform.catalog import Catalog, ProductAssets


STEPS = ("topics", "bronze", "silver", "gold")


class EventProductConfig(CollectedProductConfig, Protocol):
    """The parts of an event product's configuration the kit reads: a ``ProductConfig`` with a
    ``collector`` and an ``event_time`` section."""

    @property
    def owner(self) -> str: ...
    @property
    def team(self) -> str: ...
    @property
    def schedule(self) -> str | None: ...
    @property
    def collector(self) -> CollectorSettings: ...
    @property
    def serving(self) -> ServingConfig: ...
    @property
    def event_time(self) -> EventTimeWindow: ...


ConfigT = TypeVar("ConfigT", bound=EventProductConfig)
"""The configuration type of one event product (``WebConfig``, ``MobileConfig``)."""


SparkProvider = Callable[[], "SparkSession"]


@dataclass(frozen=True, kw_only=True)
class EventProduct(Generic[ConfigT]):
    """A product's own pieces, typed by its configuration; everything else is shared.

    Each table is named here once: ``refinement`` gives only the product's transforms
    (:class:`~lakehouse_events.refinement.RefinementSteps`), and :meth:`build_refinement` joins
    them with these tables.
    """

    name: str
    description: str
    load_config: Callable[[], ConfigT]
    bronze: TableSpec
    quarantine: TableSpec
    events: TableSpec
    sessions: TableSpec
    identity_links: TableSpec | None = None
    """The silver table of the ids the product's identify, alias and sign-in events tie to a
    subject key (:func:`lakehouse_core.identity.identity_links_table`)."""
    refinement: Callable[[ConfigT], RefinementSteps]
    gold_step: Callable[[ConfigT, str], BatchFunction]
    gold_tables: tuple[TableSpec, ...]
    create_api: Callable[[ConfigT, str], FastAPI]
    generate: Callable[[date, int, int], Sequence[Mapping[str, object]]]
    example_queries: Callable[[date], list[str]]
    default_size: int = 2000
    schema_record: Path | None = None
    """The committed schema history of the product's tables (``lakehouse catalog record-schemas``)."""

    @property
    def tables(self) -> tuple[TableSpec, ...]:
        """Every table of the product, each once: what the platform's catalog lists."""
        links = (self.identity_links,) if self.identity_links else ()
        specs = (self.bronze, self.quarantine, self.events, self.sessions, *links, *self.gold_tables)
        return tuple({spec.qualified_name: spec for spec in specs}.values())

    def build_refinement(self, config: ConfigT) -> Refinement:
        """The shared bronze → silver job of this product: its refinement steps with the tables
        declared here. Refuses steps that write a derived table the declaration does not list, or
        identity links without a table (or a table without links)."""
        steps = self.refinement(config)
        undeclared = [d.spec.qualified_name for d in steps.derived if d.spec not in self.tables]
        if undeclared:
            raise RefinementError(
                f"{self.name}: its refinement writes {', '.join(undeclared)}, which its declaration "
                "does not list (its tables are bronze, quarantine, events, sessions, identity_links and "
                "gold_tables): the catalog would not know it"
            )
        return Refinement(
            product=self.name,
            bronze=self.bronze,
            quarantine=self.quarantine,
            events=self.events,
            sessions=self.sessions,
            identity_links=self.identity_links,
            steps=steps,
        )

    def product_assets(self, settings: LakehouseSettings, catalog: Catalog) -> ProductAssets:
        """What the platform's Dagster definitions run of this product
        (:func:`lakehouse_events.assets.event_product_assets`)."""
        from lakehouse_events.assets import event_product_assets

        return event_product_assets(self, settings, catalog)

    def serving_app(self, settings: LakehouseSettings) -> FastAPI:
        """The product's REST API over the lake of ``settings`` (what ``api`` serves)."""
        return self.create_api(self.load_config(), settings.lake_root)

    def collector_app(self, settings: LakehouseSettings) -> FastAPI:
        """The product's collector in front of the Kafka of ``settings`` (what ``collector``
        serves)."""
        return collector_app(self.load_config(), settings)


def topic_specs(topics: Mapping[str, TopicConfig]) -> list[TopicSpec]:
    return [
        TopicSpec(
            t.name,
            partitions=t.partitions,
            config=t.kafka_config(),
        )
        for t in topics.values()
    ]


def bronze_job(
    product: EventProduct[ConfigT], config: ConfigT, *, bootstrap_servers: str, lake_root: str
) -> BronzeIngestion:
    return product_bronze(
        product.name,
        topic=config.topics["events"].name,
        table=product.bronze,
        bootstrap_servers=bootstrap_servers,
        lake_root=lake_root,
    )


def reconcile_product(
    product: EventProduct[ConfigT], config: ConfigT, *, bootstrap_servers: str, lake_root: str
) -> Reconciliation:
    """Kafka records = bronze rows = silver events + quarantined rows, for this product."""
    return reconcile(
        topic=config.topics["events"].name,
        bronze=product.bronze,
        silver=product.events,
        quarantine=product.quarantine,
        sessions=product.sessions,
        bootstrap_servers=bootstrap_servers,
        lake_root=lake_root,
    )


def run_silver(
    product: EventProduct[ConfigT], spark: SparkSession, config: ConfigT, *, lake_root: str
) -> IncrementalRun:
    """Refine the bronze records not yet processed (the shared refinement job)."""
    return run_refinement(spark, product.build_refinement(config), lake_root=lake_root)


def run_gold(
    product: EventProduct[ConfigT], spark: SparkSession, config: ConfigT, *, lake_root: str
) -> IncrementalRun:
    """Recompute the gold rows that silver sessions' changes since the last run affect."""
    return run_on_changes(
        spark,
        product.gold_step(config, lake_root),
        product=product.name,
        job="gold",
        changes_of=product.sessions,
        tables=product.gold_tables,
        lake_root=lake_root,
    )


def event_pipeline(
    product: EventProduct[ConfigT],
    config: ConfigT,
    *,
    spark: SparkProvider,
    bootstrap_servers: str,
    lake_root: str,
) -> Pipeline:
    """topics → bronze → silver → gold. ``spark`` is called when a Spark step first runs, so
    the topics step needs no JVM."""

    def layers(*wanted: Layer) -> tuple[TableSpec, ...]:
        return tuple(spec for spec in product.tables if spec.layer in wanted)

    bronze_writes = layers(Layer.BRONZE)
    silver_writes = layers(Layer.SILVER, Layer.QUARANTINE)
    gold_writes = layers(Layer.GOLD)

    def topics(_: RunContext) -> Mapping[str, Any]:
        return {"created": ensure_topics(bootstrap_servers, topic_specs(config.topics))}

    def bronze(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        before = versions_before(session, bronze_writes, lake_root=lake_root)
        job = bronze_job(product, config, bootstrap_servers=bootstrap_servers, lake_root=lake_root)
        records = run_bronze_ingestion(session, job)
        written = written_since(session, bronze_writes, before, lake_root=lake_root)
        read = {f"{KAFKA_UPSTREAM}{topic}": records for topic in job.topics}
        return {"records": records, "rows_read": read, **written.outputs()}

    def silver(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        before = versions_before(session, silver_writes, lake_root=lake_root)
        run = run_silver(product, session, config, lake_root=lake_root)
        written = written_since(session, silver_writes, before, lake_root=lake_root)
        quarantine = product.quarantine.qualified_name
        quarantined = quarantined_by_rule(
            session,
            product.quarantine,
            before.get(quarantine),
            written.delta_versions.get(quarantine),
            lake_root=lake_root,
        )
        return {
            "bronze_rows_read": run.input_rows,
            "batches": run.batches,
            "rows_read": {product.bronze.qualified_name: run.input_rows},
            **written.outputs(),
            "rows_quarantined": quarantined,
        }

    def gold(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        before = versions_before(session, gold_writes, lake_root=lake_root)
        run = run_gold(product, session, config, lake_root=lake_root)
        written = written_since(session, gold_writes, before, lake_root=lake_root)
        return {
            "changes_read": run.input_rows,
            "batches": run.batches,
            "rows_read": {product.sessions.qualified_name: run.input_rows},
            **written.outputs(),
        }

    return Pipeline(
        product.name,
        [
            Task("topics", topics),
            Task("bronze", bronze, depends_on=("topics",), writes=bronze_writes),
            Task("silver", silver, depends_on=("bronze",), writes=silver_writes),
            Task("gold", gold, depends_on=("silver",), writes=gold_writes),
        ],
    )


console = Console()
errors = Console(stderr=True)


@cache
def spark_session(name: str) -> SparkSession:
    """The product's Spark session, one per process (built when a Spark step first runs)."""
    from lakehouse_core.spark import build_spark_session

    return build_spark_session(name, settings=LakehouseSettings())


def collector_app(config: EventProductConfig, settings: LakehouseSettings) -> FastAPI:
    """The product's collector, from its configuration (``topics``, ``collector``)."""
    return product_collector_app(config, config.collector, bootstrap_servers=settings.kafka_bootstrap_servers)


def run_steps(
    product: EventProduct[ConfigT], config: ConfigT, settings: LakehouseSettings, only: list[str] | None
) -> bool:
    """Run (some of) the product's pipeline, print each task's outcome, record the run (JSON
    lines), each attempt (``platform.pipeline_runs.v1``) and each table version written
    (``platform.audit.v1``), both spooled while Kafka is down, and emit the OpenLineage events
    of each attempt to the configured lineage transport."""
    pipeline = event_pipeline(
        product,
        config,
        spark=lambda: spark_session(product.name),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        lake_root=settings.lake_root,
    )
    recorders: list[RunRecorder] = [
        JsonLinesRecorder(settings.state_dir / "pipeline_runs" / f"{product.name}.jsonl")
    ]
    catalog = product_catalog(product, lake_root=settings.lake_root)
    with platform_recorders(settings, catalog=catalog) as reporting:
        run = run_pipeline(pipeline, only=only, recorders=[*recorders, *reporting])
    for task in run.tasks:
        colour = {"succeeded": "green", "failed": "red"}.get(task.status, "yellow")
        shown = {k: v for k, v in task.outputs.items() if k not in REPORTED_COUNTS}
        detail = json.dumps(shown) if shown else (task.error or "")
        console.print(f"  [{colour}]{task.status:>9}[/] {task.name:<7} {detail}")
    return run.status == "succeeded"


def send_generated_day(
    product: EventProduct[ConfigT], config: ConfigT, url: str, *, day: date, size: int, seed: int
) -> int:
    keys = config.collector.write_keys
    if not keys:
        raise LakehouseError(f"no write key: set the {product.name} collector's WRITE_KEYS variable")
    with SegmentClient(url, keys[0].get_secret_value()) as client:
        report = client.send(as_replay(m) for m in product.generate(day, size, seed))
    console.print(f"collector {url} accepted {report.messages} events of {day} ({report.batches} batches)")
    return int(report.messages)


def _serve_api(product: EventProduct[ConfigT], config: ConfigT, settings: LakehouseSettings) -> None:
    serve(
        lambda: product.create_api(config, settings.lake_root),
        host=config.serving.host,
        port=config.serving.port,
        workers=config.serving.workers,
        proxy_headers=True,
    )


StepOption = Annotated[list[str] | None, typer.Option(help=f"Run only these steps: {', '.join(STEPS)}.")]
SeedOption = Annotated[
    int | None,
    typer.Option(help="Seed of the generated day (default: the next one not yet sent for that day)."),
]


def demo_seeds(product: EventProduct[ConfigT], settings: LakehouseSettings) -> DemoSeeds:
    return DemoSeeds(settings.state_dir / "demo" / f"{product.name}-seeds.json")


def _choose_seed(seeds: DemoSeeds, day: date, seed: int | None) -> int:
    chosen = seeds.next_unused(day) if seed is None else seed
    if chosen in seeds.sent(day):
        errors.print(
            f"[yellow]seed {chosen} was already sent for {day}: its events repeat stored message ids "
            "and will be quarantined as duplicates[/]"
        )
    else:
        console.print(f"generating {day} with seed {chosen}")
    return chosen


def demo_bindings(config: EventProductConfig, *, serve: bool) -> list[Binding]:
    """The ports ``demo`` listens on, with the variables that move them."""
    prefix = str(config.model_config.get("env_prefix") or "")
    bindings = [
        Binding("collector", config.collector.host, config.collector.port, f"{prefix}COLLECTOR__PORT")
    ]
    if serve:
        bindings.append(Binding("API", config.serving.host, config.serving.port, f"{prefix}SERVING__PORT"))
    return bindings


def _pipeline_in_child(product: EventProduct[ConfigT], *, stderr: IO[str] | None) -> bool:
    """``<product> pipeline`` as a child process: it prints its task outcomes, and its JVM ends
    with it."""
    script = Path(sys.executable).with_name(product.name)
    command = [str(script)] if script.is_file() else [sys.argv[0]]
    return subprocess.run([*command, "pipeline"], stderr=stderr, check=False).returncode == 0


def _demo_day(
    product: EventProduct[ConfigT],
    config: ConfigT,
    settings: LakehouseSettings,
    *,
    day: date,
    size: int,
    seed: int | None,
    log: IO[str] | None,
) -> bool:
    """Topics, a generated day through the collector, then the pipeline in a child process."""
    seeds = demo_seeds(product, settings)
    chosen = _choose_seed(seeds, day, seed)
    if not run_steps(product, config, settings, ["topics"]):
        return False
    with serve_in_thread(
        collector_app(config, settings), host=config.collector.host, port=config.collector.port
    ) as url:
        send_generated_day(product, config, url, day=day, size=size, seed=chosen)
    seeds.record(day, chosen)
    return _pipeline_in_child(product, stderr=log)


def _print_reconciliation(
    product: EventProduct[ConfigT], config: ConfigT, settings: LakehouseSettings
) -> None:
    counts = reconcile_product(
        product, config, bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=settings.lake_root
    )
    rules = quarantine_by_rule(product.quarantine, settings.lake_root)
    console.print(reconciliation_table(counts, rules))
    if rules.get(DUPLICATE_RULE):
        console.print(
            f"[yellow]{rules[DUPLICATE_RULE]} events repeat a messageId already stored[/] "
            f"(rule {DUPLICATE_RULE}): the same day and seed were sent before. They are in "
            "quarantine and counted once; leave out --seed to send new events."
        )


def reconciliation_table(counts: Reconciliation, rules: Mapping[str, int]) -> Table:
    table = Table(title="reconciliation", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("kafka records", f"{counts.kafka:,}")
    table.add_row("bronze rows", f"{counts.bronze:,}")
    table.add_row("silver events", f"{counts.silver:,}")
    table.add_row("quarantined", f"{counts.quarantine:,}")
    for rule, count in sorted(rules.items()):
        table.add_row(f"  {rule}", f"{count:,}")
    table.add_row("sessions", f"{counts.sessions:,}")
    table.add_row("balanced", "[green]yes[/]" if counts.balanced else "[red]no[/]")
    return table


def product_cli(product: EventProduct[ConfigT]) -> typer.Typer:  # noqa: PLR0915 - one nested function per command
    """The product's command line; its console script points at the returned app."""
    app = typer.Typer(help=f"{product.name}: {product.description}")

    @app.command()
    def collector() -> None:
        """Serve the Segment-compatible collector (POST /v1/batch, /v1/track, ...)."""
        configure_logging(product.name)
        config, settings = product.load_config(), LakehouseSettings()
        try:
            # With one process the app is built here, so a bad configuration is refused at once;
            # forked workers each build their own (its Kafka producer's threads do not survive a fork).
            service = collector_app(config, settings) if config.collector.workers == 1 else None
        except LakehouseError as exc:
            errors.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
        serve(
            (lambda: service) if service is not None else (lambda: collector_app(config, settings)),
            host=config.collector.host,
            port=config.collector.port,
            workers=config.collector.workers,
        )

    @app.command()
    def api() -> None:
        """Serve the REST API over gold (OpenAPI docs at /docs)."""
        configure_logging(product.name)
        _serve_api(product, product.load_config(), LakehouseSettings())

    @app.command("pipeline")
    def pipeline_command(step: StepOption = None) -> None:
        """Run topics → bronze → silver → gold once, incrementally (only new data is processed)."""
        configure_logging(product.name)
        if not run_steps(product, product.load_config(), LakehouseSettings(), step):
            raise typer.Exit(1)

    @app.command()
    def backfill(
        start: Annotated[str, typer.Option(help="First day to recompute, YYYY-MM-DD.")],
        end: Annotated[str, typer.Option(help="Last day to recompute (included), YYYY-MM-DD.")],
        force: Annotated[bool, typer.Option(help=f"Allow a range of more than {MAX_DAYS} days.")] = False,
        chunk_days: Annotated[
            int, typer.Option(min=1, help="Days of silver sessions per gold batch.")
        ] = DEFAULT_CHUNK_DAYS,
    ) -> None:
        """Recompute the gold of the days START to END from silver, leaving the incremental
        gold job's checkpoint where it is. Exits 2 on a backwards or over-long range."""
        try:
            days = day_range(start, end, force=force)
        except BackfillRangeError as exc:
            errors.print(f"[red]{exc}[/]", soft_wrap=True)
            raise typer.Exit(2) from exc
        configure_logging(product.name)
        run = run_backfill(
            product,
            product.load_config(),
            LakehouseSettings(),
            spark=lambda: spark_session(product.name),
            days=days,
            chunk_days=chunk_days,
            console=console,
        )
        task = run.task(BACKFILL_TASK)
        if task.status != "succeeded":
            errors.print(f"[red]backfill {days.partition} failed:[/] {task.error}", soft_wrap=True)
            raise typer.Exit(1)
        outputs = task.outputs
        sessions, batches = outputs["sessions_read"], outputs["batches"]
        console.print(f"backfilled {days.partition}: {sessions:,} silver sessions in {batches} batches")
        empty = [date.fromisoformat(d) for d in outputs["days_without_sessions"]]
        if empty:
            errors.print(
                f"[yellow]no silver sessions on {len(empty)} days ({', '.join(spans(empty))}): "
                "their gold was left as it is[/]",
                soft_wrap=True,
            )

    @app.command()
    def ingest(
        trigger_seconds: Annotated[float, typer.Option(min=0.1, help="Micro-batch interval.")] = 10.0,
    ) -> None:
        """Stream Kafka → bronze continuously (the pipeline's bronze step drains and stops)."""
        configure_logging(product.name)
        config, settings = product.load_config(), LakehouseSettings()
        ensure_topics(settings.kafka_bootstrap_servers, topic_specs(config.topics))
        job = bronze_job(
            product, config, bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=settings.lake_root
        )
        query = start_bronze_stream(
            spark_session(product.name), job, continuous=True, trigger_seconds=trigger_seconds
        )
        console.print(f"streaming {job.topics[0]} → {job.table.qualified_name} every {trigger_seconds}s")
        query.awaitTermination()

    @app.command()
    def generate(
        day: Annotated[str, typer.Option(help="UTC day to generate, YYYY-MM-DD (default: yesterday).")] = "",
        size: Annotated[int, typer.Option(min=1, help="Visitors or devices.")] = product.default_size,
        seed: SeedOption = None,
        url: Annotated[str, typer.Option(help="Collector base URL (default: the configured one).")] = "",
    ) -> None:
        """Send a generated, seeded day of realistic traffic through the collector."""
        config, settings = product.load_config(), LakehouseSettings()
        when = date.fromisoformat(day) if day else date.today() - timedelta(days=1)
        target = url or f"http://{config.collector.host}:{config.collector.port}"
        seeds = demo_seeds(product, settings)
        chosen = _choose_seed(seeds, when, seed)
        try:
            send_generated_day(product, config, target, day=when, size=size, seed=chosen)
        except LakehouseError as exc:
            errors.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
        seeds.record(when, chosen)

    @app.command("import")
    def import_command(
        file: Annotated[
            str, typer.Argument(help="Segment JSON lines to import (gzip or not); omit with --from-topic.")
        ] = "",
        from_topic: Annotated[str, typer.Option(help="Import the Segment JSON a Kafka topic holds.")] = "",
        refused: Annotated[
            str, typer.Option(help="Write the refused lines here (JSON lines: where, reason, raw).")
        ] = "",
    ) -> None:
        """Import history: Segment messages with their own timestamps onto the events topic, marked
        as imported (then run `pipeline`). Exits 1 when a line was refused; the valid ones are in."""
        configure_logging(product.name)
        config, settings = product.load_config(), LakehouseSettings()
        try:
            report = import_history(
                config,
                topics=topic_specs(config.topics),
                bootstrap_servers=settings.kafka_bootstrap_servers,
                file=file or None,
                from_topic=from_topic or None,
            )
        except LakehouseError as exc:
            errors.print(f"[red]{exc}[/]")
            raise typer.Exit(1) from exc
        summary, *problems = describe_report(report)
        console.print(summary, soft_wrap=True)
        for problem in problems:
            errors.print(problem, markup=False, highlight=False, soft_wrap=True)
        if report.refused:
            if refused:
                write_refused(report, refused)
                errors.print(f"refused lines written to {refused}", markup=False, soft_wrap=True)
            raise typer.Exit(1)

    @app.command("reconcile")
    def reconcile_command() -> None:
        """Check that Kafka, bronze, silver and quarantine counts add up."""
        settings = LakehouseSettings()
        config = product.load_config()
        counts = reconcile_product(
            product, config, bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=settings.lake_root
        )
        console.print_json(counts.model_dump_json())
        if not counts.balanced:
            errors.print("[red]counts do not reconcile:[/] kafka = bronze = silver + quarantine fails")
            raise typer.Exit(1)

    @app.command()
    def compact() -> None:
        """Bin-pack the small files of bronze and silver (Delta OPTIMIZE); safe while they are written."""
        configure_logging(product.name)
        settings = LakehouseSettings()
        spark = spark_session(product.name)
        for spec in (product.bronze, product.quarantine, product.events, product.sessions):
            try:
                done = compact_table(spark, spec, lake_root=settings.lake_root)
            except LakehouseError as exc:
                errors.print(f"[yellow]{spec.qualified_name}: {exc}[/]")
                continue
            console.print(f"{spec.qualified_name}: {done.files_removed} files → {done.files_added}")

    @app.command()
    def demo(
        size: Annotated[int, typer.Option(min=1, help="Visitors or devices.")] = product.default_size,
        seed: SeedOption = None,
        serve: Annotated[bool, typer.Option(help="Start the API afterwards and keep it running.")] = True,
        verbose: Annotated[bool, typer.Option(help="Show Spark's and the JSON logs on the console.")] = False,
    ) -> None:
        """A generated day through collector → Kafka → bronze → silver → gold, then the API.

        The pipeline runs in a child process, so its Spark JVM is gone before the API (which
        reads gold through delta-rs) starts serving; logs go to a file unless ``--verbose``.
        """
        config, settings = product.load_config(), LakehouseSettings()
        problems = taken_ports(demo_bindings(config, serve=serve))
        if problems:
            for problem in problems:
                errors.print(f"[red]{problem}[/]")
            raise typer.Exit(1)
        log_file = settings.state_dir / "logs" / f"{product.name}-demo.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("a", encoding="utf-8") as log:
            configure_logging(product.name, stream=None if verbose else log)
            day = date.today() - timedelta(days=1)
            ok = _demo_day(
                product, config, settings, day=day, size=size, seed=seed, log=None if verbose else log
            )
            if not verbose:
                console.print(f"[dim]logs: {log_file}[/]")
            _print_reconciliation(product, config, settings)
            if not ok:
                raise typer.Exit(1)
            if serve:
                base = f"http://{config.serving.host}:{config.serving.port}"
                links = [f"{base}/docs", *(base + q for q in product.example_queries(day)), f"{base}/metrics"]
                console.print("\n".join(f"  {link}" for link in links))
                _serve_api(product, config, settings)

    return app
