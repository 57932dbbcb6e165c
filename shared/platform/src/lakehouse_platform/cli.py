"""``lakehouse``: the platform's command line (stack, topics, catalog, backups, SQL, smoke pipeline, UI)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from lakehouse_core.errors import LakehouseError
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics, list_topics
from lakehouse_core.process_exit import command_line
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import Layer
from lakehouse_platform.backup.cli import backup_app
from lakehouse_platform.catalog import Catalog, CatalogEntry, LineageNode, discover_products, load_catalog
from lakehouse_platform.dagster_ui import DEFAULT_PORT, PORT_VARIABLE
from lakehouse_platform.gateway.cli import admin_app, gateway
from lakehouse_platform.report.command import report
from lakehouse_platform.schema_history import problems, read_record, record, write_record
from lakehouse_platform.stack.kafka_broker import BrokerConfig, BrokerStatus, LocalKafkaBroker
from lakehouse_platform.stack.kafka_connect import ConnectConfig, ConnectStatus, LocalKafkaConnect
from lakehouse_platform.stack.postgres import LocalPostgres, PostgresConfig, PostgresStatus
from lakehouse_platform.topics import describe_topic

if TYPE_CHECKING:
    from lakehouse_platform.schema_history import SchemaVersion

app = typer.Typer(help="The data platform's command line.", no_args_is_help=True)
stack = typer.Typer(
    help="The local stack: a single-node Kafka broker (KRaft), PostgreSQL and a Kafka Connect worker.",
    no_args_is_help=True,
)
app.add_typer(stack, name="stack")
topics = typer.Typer(
    help="Kafka topics: list, create, describe (the broker never creates a topic on first produce).",
    no_args_is_help=True,
)
app.add_typer(topics, name="topics")
catalog_app = typer.Typer(
    help="The catalog: every table of every installed product, its metadata and lineage.",
    no_args_is_help=True,
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(admin_app, name="admin")
app.add_typer(backup_app, name="backup")
app.command("gateway")(gateway)
app.command("report")(report)

console = Console()
errors = Console(stderr=True)

PortOption = Annotated[int | None, typer.Option(help="Broker client port [env: LAKEHOUSE_KAFKA_PORT].")]
BootstrapOption = Annotated[
    str | None,
    typer.Option(help="Kafka bootstrap servers [default: the local stack's, from LAKEHOUSE_KAFKA_*]."),
]


PostgresPortOption = Annotated[
    int | None,
    typer.Option(help="PostgreSQL port [env: LAKEHOUSE_POSTGRES_PORT]; Connect's is LAKEHOUSE_CONNECT_PORT."),
]


def _settings(port: int | None, postgres_port: int | None) -> LakehouseSettings:
    overrides: dict[str, Any] = {}
    if port is not None:
        overrides["kafka_port"] = port
    if postgres_port is not None:
        overrides["postgres_port"] = postgres_port
    return LakehouseSettings(**overrides)


def _broker(port: int | None = None, postgres_port: int | None = None) -> LocalKafkaBroker:
    return LocalKafkaBroker(BrokerConfig.from_settings(_settings(port, postgres_port)))


def _postgres(port: int | None = None, postgres_port: int | None = None) -> LocalPostgres:
    return LocalPostgres(PostgresConfig.from_settings(_settings(port, postgres_port)))


def _connect(port: int | None = None, postgres_port: int | None = None) -> LocalKafkaConnect:
    return LocalKafkaConnect(ConnectConfig.from_settings(_settings(port, postgres_port)))


def _show(title: str, running: bool, rows: dict[str, str]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("state", "[green]running[/]" if running else "[red]stopped[/]")
    for key, value in rows.items():
        table.add_row(key, value)
    console.print(table)


def _show_broker(status: BrokerStatus) -> None:
    rows = {"pid": str(status.pid or "-"), "bootstrap": status.bootstrap_servers}
    _show("kafka", status.running, {**rows, "data": status.data_dir, "log": status.log_file})


def _show_postgres(status: PostgresStatus) -> None:
    rows = {"pid": str(status.pid or "-"), "dsn": status.dsn}
    _show("postgres", status.running, {**rows, "data": status.data_dir, "log": status.log_file})


def _show_connect(status: ConnectStatus) -> None:
    _show(
        "connect", status.running, {"pid": str(status.pid or "-"), "url": status.url, "log": status.log_file}
    )


@stack.command("up")
def stack_up(
    port: PortOption = None,
    postgres_port: PostgresPortOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each service.")] = 90.0,
) -> None:
    """Start the local Kafka broker, PostgreSQL and the Kafka Connect worker (each a no-op when
    it already runs) and wait until they answer."""
    broker = _broker(port, postgres_port)
    postgres = _postgres(port, postgres_port)
    connect = _connect(port, postgres_port)
    broker_was_running = broker.status().running
    postgres_was_running = postgres.status().running
    connect_was_running = connect.status().running
    try:
        broker_status = broker.start(timeout=timeout)
        console.print("Kafka broker already running." if broker_was_running else "Kafka broker started.")
        postgres_status = postgres.start(timeout=timeout)
        console.print("PostgreSQL already running." if postgres_was_running else "PostgreSQL started.")
        connect_status = connect.start(timeout=timeout)
        console.print("Kafka Connect already running." if connect_was_running else "Kafka Connect started.")
    except LakehouseError as exc:
        errors.print(f"[red]stack up failed:[/] {exc}")
        raise typer.Exit(1) from exc
    _show_broker(broker_status)
    _show_postgres(postgres_status)
    _show_connect(connect_status)


@stack.command("down")
def stack_down(
    port: PortOption = None,
    postgres_port: PostgresPortOption = None,
    purge: Annotated[bool, typer.Option(help="Also delete the broker's topics and the database.")] = False,
) -> None:
    """Stop the Kafka Connect worker, PostgreSQL and the Kafka broker gracefully."""
    broker = _broker(port, postgres_port)
    postgres = _postgres(port, postgres_port)
    connect = _connect(port, postgres_port)
    try:
        console.print("Kafka Connect stopped." if connect.stop() else "Kafka Connect was not running.")
        if purge:
            postgres.purge()
            broker.purge()
            console.print(f"PostgreSQL stopped and its cluster deleted ({postgres.state_dir}).")
            console.print(f"Kafka broker stopped and its storage deleted ({broker.state_dir}).")
            return
        console.print("PostgreSQL stopped." if postgres.stop() else "PostgreSQL was not running.")
    except LakehouseError as exc:
        errors.print(f"[red]stack down failed:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print("Kafka broker stopped." if broker.stop() else "Kafka broker was not running.")


@stack.command("status")
def stack_status(
    port: PortOption = None,
    postgres_port: PostgresPortOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON: the broker's fields; the database's and Connect's under 'postgres', 'connect'.",
        ),
    ] = False,
) -> None:
    """Say what runs and where. Exit code 0 when every service runs, 3 when one does not."""
    broker_status = _broker(port, postgres_port).status()
    postgres_status = _postgres(port, postgres_port).status()
    connect_status = _connect(port, postgres_port).status()
    if as_json:
        extra = {"postgres": asdict(postgres_status), "connect": asdict(connect_status)}
        print(json.dumps({**asdict(broker_status), **extra}))
    else:
        _show_broker(broker_status)
        _show_postgres(postgres_status)
        _show_connect(connect_status)
    if not (broker_status.running and postgres_status.running and connect_status.running):
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


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _catalog() -> Catalog:
    try:
        return load_catalog(lake_root=LakehouseSettings().lake_root)
    except LakehouseError as exc:
        errors.print(f"[red]catalog:[/] {escape(str(exc))}")
        raise typer.Exit(1) from exc


def _entry(catalog: Catalog, name: str) -> CatalogEntry:
    try:
        return catalog.get(name)
    except LakehouseError as exc:
        errors.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from exc


def _subjects(entry: CatalogEntry) -> str:
    return ", ".join(f"{c} ({k.value})" for c, k in entry.spec.subject_columns.items()) or "-"


@catalog_app.command("list")
def catalog_list(
    product: Annotated[str | None, typer.Option(help="Only this product's tables.")] = None,
    layer: Annotated[Layer | None, typer.Option(help="Only this layer's tables.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every catalogued table: qualified name, schema version, partitioning, subject columns."""
    catalog = _catalog()
    if product is not None and not catalog.select(product=product):
        products = sorted({e.product for e in catalog.entries.values()})
        errors.print(f"[red]no product {product!r}[/] (installed: {', '.join(products)})")
        raise typer.Exit(1)
    entries = catalog.select(product=product, layer=layer)
    if as_json:
        print(json.dumps([e.to_json() for e in entries]))
        return
    table = Table(title=f"{len(entries)} tables", title_justify="left")
    table.add_column("name", no_wrap=True)
    for column in ("schema", "partitioned by", "subject columns", "description"):
        table.add_column(column, overflow="fold")
    for e in entries:
        table.add_row(
            e.qualified_name,
            f"v{e.spec.schema_version}",
            ", ".join(e.spec.partition_by) or "-",
            ", ".join(e.spec.subject_columns) or "-",
            e.spec.description.strip().splitlines()[0] if e.spec.description.strip() else "",
        )
    console.print(table)


def _versions(history: tuple[SchemaVersion, ...]) -> str:
    if not history:
        return "not recorded (lakehouse catalog record-schemas)"
    return ", ".join(f"{v.label} ({len(v.fields)} columns)" for v in history)


@catalog_app.command("show")
def catalog_show(
    name: Annotated[str, typer.Argument(help="Qualified name, e.g. web-user-analytics.gold.daily_traffic.")],
    as_json: JsonOption = False,
) -> None:
    """Everything the catalog knows about one table, with its columns and schema versions."""
    entry = _entry(_catalog(), name)
    if as_json:
        print(json.dumps(entry.to_json()))
        return
    spec = entry.spec
    about = Table(title=entry.qualified_name, show_header=False, title_justify="left")
    about.add_column(style="bold")
    about.add_column(overflow="fold")
    rows: list[tuple[str, Any]] = [
        ("description", spec.description.strip()),
        ("layer", spec.layer.value),
        ("owner", entry.owner),
        ("contract", entry.contract or "-"),
        ("schema version", spec.schema_version),
        ("schema history", _versions(entry.history)),
        ("location", entry.location),
        ("sql name", entry.sql_name),
        ("partitioned by", ", ".join(spec.partition_by) or "-"),
        ("subject columns", _subjects(entry)),
        (
            "retention",
            f"{spec.retention.days} days by {spec.retention.date_column}" if spec.retention else "-",
        ),
        (
            "freshness SLA",
            f"warn after {spec.freshness.warn_minutes} min, breach after {spec.freshness.breach_minutes} min"
            if spec.freshness
            else "-",
        ),
        ("upstream", ", ".join(entry.upstream) or "-"),
    ]
    for key, value in rows:
        about.add_row(key, escape(str(value)))
    console.print(about)
    columns = Table(title="columns", title_justify="left")
    for heading in ("column", "type", "nullable", "subject", "description"):
        columns.add_column(heading, overflow="fold")
    for c in entry.columns:
        columns.add_row(
            c.name,
            escape(c.type),
            "yes" if c.nullable else "no",
            c.subject.value if c.subject else "",
            c.description,
        )
    console.print(columns)


def _tree(node: LineageNode, tree: Tree) -> None:
    for child in node.children:
        label = escape(child.name) + (" [dim](shown above)[/]" if child.repeated else "")
        _tree(child, tree.add(label))


@catalog_app.command("lineage")
def catalog_lineage(
    name: Annotated[str, typer.Argument(help="Qualified table name, or kafka:<topic> with --downstream.")],
    upstream: Annotated[
        bool, typer.Option("--upstream/--downstream", help="Follow the sources (default) or the consumers.")
    ] = True,
) -> None:
    """The chain of tables (and Kafka topics) a table is computed from, or feeds, as a tree."""
    catalog = _catalog()
    try:
        root = catalog.lineage(name, upstream=upstream)
    except LakehouseError as exc:
        errors.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from exc
    tree = Tree(f"[bold]{escape(root.name)}[/] ({'upstream' if upstream else 'downstream'})")
    _tree(root, tree)
    console.print(tree)


@catalog_app.command("record-schemas")
def catalog_record_schemas(
    check_only: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when a record is out of date.")
    ] = False,
) -> None:
    """Record each table's live schema in its product's schema record (config/schemas.json).

    An additive change becomes a new revision of the table's schema version; a breaking change
    is refused until the table's declared schema_version is bumped.
    """
    _catalog()
    failed = False
    for product in discover_products():
        if product.schema_record is None:
            errors.print(f"{product.name}: declares no schema record; skipped")
            continue
        history = read_record(product.schema_record)
        if check_only:
            for problem in problems(product.tables, history):
                errors.print(escape(problem), soft_wrap=True)
                failed = True
            continue
        updated: dict[str, tuple[SchemaVersion, ...]] = {}
        for spec in product.tables:
            before = history.get(spec.qualified_name, ())
            try:
                updated[spec.qualified_name] = record(spec, before)
            except LakehouseError as exc:
                errors.print(f"[red]{escape(str(exc))}[/]", soft_wrap=True)
                failed = True
                continue
            if updated[spec.qualified_name] != before:
                console.print(f"recorded {spec.qualified_name} v{updated[spec.qualified_name][-1].label}")
        if not failed and updated != history:
            write_record(product.schema_record, updated)
            console.print(f"{product.name}: wrote {product.schema_record}", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


def _json_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@app.command("sql")
def sql(
    query: Annotated[
        str, typer.Argument(help="Spark SQL, e.g. select * from web_user_analytics_gold.daily_traffic.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines, one per row.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Rows printed at most.")] = 1000,
) -> None:
    """Run Spark SQL over every catalogued table (database <product>_<layer>, dashes as underscores)."""
    import tempfile

    from lakehouse_core.spark import build_spark_session
    from lakehouse_platform.catalog import register_tables

    catalog = _catalog()
    with tempfile.TemporaryDirectory(prefix="lakehouse-sql-") as warehouse:
        try:
            spark = build_spark_session(
                "lakehouse-sql",
                settings=LakehouseSettings(),
                extra_conf={
                    "spark.sql.warehouse.dir": warehouse,
                    "spark.driver.extraJavaOptions": f"-Dderby.system.home={warehouse}",
                },
            )
            registration = register_tables(spark, catalog)
            for name, reason in registration.skipped.items():
                errors.print(f"[dim]skipped {name}: {escape(reason)}[/]")
            frame = spark.sql(query)
            rows = frame.limit(limit + 1).collect()
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            errors.print(f"[red]sql failed:[/] {escape(message)}")
            raise typer.Exit(1) from exc
    if as_json:
        for row in rows[:limit]:
            print(json.dumps(_json_value(row.asDict(recursive=True))))
    else:
        table = Table(title=f"{min(len(rows), limit)} rows", title_justify="left")
        for column in frame.columns:
            table.add_column(escape(column), overflow="fold")
        for row in rows[:limit]:
            table.add_row(*(escape("null" if v is None else str(v)) for v in row))
        console.print(table)
    if len(rows) > limit:
        errors.print(f"more than {limit} rows; printed the first {limit} (--limit)")


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


@app.command("operational-app")
def operational_app(
    customers: Annotated[int, typer.Option(min=0, help="New customers to insert, with their orders.")] = 100,
    changes: Annotated[
        int, typer.Option(min=0, help="Random inserts, updates and deletes after that.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same changes.")] = 7,
    user_ids: Annotated[
        str | None,
        typer.Option(help="A file of tracking user ids, one a line: the first new customers are them."),
    ] = None,
) -> None:
    """Write the demo operational app's customers and orders to the local stack's PostgreSQL
    (the source Debezium captures): its schema if missing, new rows, then random changes. A
    customer's ``user_id`` is the tracking products' user id of the person (``--user-ids``, else
    drawn in their ``usr_<12 hex>`` form)."""
    from pathlib import Path

    import psycopg

    from lakehouse_platform.operational_app import OperationalApp

    given = [] if user_ids is None else Path(user_ids).read_text().split()
    target = PostgresConfig.from_settings(LakehouseSettings())
    app_ = OperationalApp(target.dsn, seed=seed)
    try:
        app_.create_schema()
        seeded = app_.seed(customers=max(customers, len(given)), user_ids=given)
        churned = app_.churn(changes=changes)
    except psycopg.OperationalError as exc:
        errors.print(f"[red]cannot write to {target.dsn}:[/] {exc} (is the stack up? `lakehouse stack up`)")
        raise typer.Exit(1) from exc
    total = {
        "inserted": seeded.inserted + churned.inserted,
        "updated": churned.updated,
        "deleted": churned.deleted,
    }
    console.print_json(json.dumps({"dsn": target.dsn, **total}))


@app.command("ui")
def ui(
    port: Annotated[int, typer.Option(min=1, max=65535, envvar=PORT_VARIABLE, help="Port.")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    daemon: Annotated[
        bool, typer.Option("--daemon/--no-daemon", help="Also run the daemon that fires schedules.")
    ] = True,
) -> None:
    """Start the Dagster UI: every product's assets, lineage, checks, runs and schedules."""
    from lakehouse_platform.dagster_ui import instance_home, serve, ui_command
    from lakehouse_platform.ports import Binding, taken_ports

    for problem in taken_ports([Binding("Dagster UI", host, port, PORT_VARIABLE)]):
        errors.print(f"[red]{escape(problem)}[/]")
        raise typer.Exit(1)
    home = instance_home(LakehouseSettings().state_dir)
    command = ui_command(home=home, host=host, port=port, daemon=daemon)
    console.print(f"Dagster UI at {command.url} (instance: {home})", soft_wrap=True)
    serve(command)


@app.command("docs")
def docs(
    folder: Annotated[str, typer.Option(help="Where the documents go.")] = "documentation",
) -> None:
    """Regenerate DATA_MODELS.md (from the catalog) and API_CONTRACTS.md (from the OpenAPI of the
    gateway's own routes, each product's API and each collector)."""
    from pathlib import Path

    from lakehouse_platform.docs_generation import write_documents

    changed = write_documents(Path(folder))
    console.print(f"{len(changed)} changed: {', '.join(map(str, changed)) or 'none'}", soft_wrap=True)


main = command_line(app)

if __name__ == "__main__":
    main()
