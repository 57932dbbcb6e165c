"""A product's tables as Dagster assets, derived from its pipeline's tasks and the catalog.

A product hands the platform its pipeline (:class:`~lakehouse_platform.catalog.ProductAssets`);
each of its tasks that writes tables (:attr:`Task.writes`) becomes one
``multi_asset`` whose specs are those tables, keyed ``[product, layer, table]``. What an asset
depends on comes from the catalog's resolved upstream: tables written by another task, of this
product or another one, and Kafka topics, which appear as external assets keyed
``["kafka", topic]``. Two tables of one task may depend on each other (silver sessions on
silver events): the op writes both and reports them upstream first; it cannot run for one
alone. Tasks that write nothing (creating topics) run first, inside the op of each writing
task that depends on them.

The op runs the very task function ``<product> pipeline`` runs, so the data written does not
depend on which engine ran it. A :class:`~lakehouse_core.errors.DataError` or a
:class:`~lakehouse_core.errors.ConfigError` fails the op
without a retry (the same input fails the same way); other failures are retried with
exponential backoff from the task's ``retries`` and ``retry_backoff_seconds``.

A product's quality rules (:class:`~lakehouse_platform.catalog.QuarantineRules`) are asset
checks on the table they are about (an event product's silver events), one per rule; each
reports how many rows the run quarantined under that rule (as the task reports them in
``rows_quarantined``, or else read back from the quarantine table's ``failed_rules``) and warns
when that is more than none.
"""

# Dagster reads the annotation of an op's ``context`` at definition time, so annotations here
# are evaluated (no ``from __future__ import annotations``).
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from lakehouse_core.config import SensorConfig
from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import KAFKA_UPSTREAM, Layer, TableSpec
from lakehouse_platform.catalog import (
    Catalog,
    CatalogEntry,
    DeclaredConfig,
    ProductAssets,
    ProductDeclaration,
)
from lakehouse_platform.dagster_sensors import new_records_sensor
from lakehouse_platform.orchestrator import (
    Pipeline,
    RunContext,
    RunRecorder,
    Task,
    deterministic_error,
    not_retried,
    run_attempt,
)
from lakehouse_platform.run_reporting import platform_recorders

#: The product's schedule when its configuration names no ``schedule`` (a cron string).
DEFAULT_SCHEDULE = "*/15 * * * *"
KAFKA_GROUP = "kafka"

_KINDS: Mapping[Layer, frozenset[str]] = {
    Layer.BRONZE: frozenset({"kafka", "spark", "delta"}),
}
_DEFAULT_KINDS = frozenset({"spark", "delta"})


def group_name(product: str) -> str:
    """The Dagster group of a product's assets: its name with dashes as underscores."""
    return product.replace("-", "_")


def job_name(product: str) -> str:
    return f"{group_name(product)}_pipeline"


def table_key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey([spec.product, spec.layer.value, spec.name])


def upstream_key(upstream: str) -> dg.AssetKey:
    """The asset key of a catalog upstream: ``kafka:<topic>`` or ``<product>.<layer>.<table>``."""
    if upstream.startswith(KAFKA_UPSTREAM):
        return dg.AssetKey(["kafka", upstream.removeprefix(KAFKA_UPSTREAM)])
    product, layer, table = upstream.split(".")
    return dg.AssetKey([product, layer, table])


def owners(config: DeclaredConfig) -> list[str]:
    """The product's owner and its team, as Dagster owners (an e-mail address or ``team:``)."""
    owner = str(config.owner).strip()
    found = [owner if "@" in owner else f"team:{owner}"] if owner else []
    team = str(config.team or "").strip()
    if team:
        found.append(f"team:{team}")
    return found


def table_schema(entry: CatalogEntry) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.type,
                description=c.description or None,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
                tags={"subject": c.subject.value} if c.subject else {},
            )
            for c in entry.columns
        ]
    )


def table_metadata(entry: CatalogEntry) -> dict[str, Any]:
    spec = entry.spec
    return {
        "dagster/column_schema": table_schema(entry),
        "dagster/uri": entry.location,
        "qualified_name": entry.qualified_name,
        "sql_name": entry.sql_name,
        "layer": spec.layer.value,
        "partitioned_by": ", ".join(spec.partition_by) or "not partitioned",
        "schema_version": spec.schema_version,
        "contract": entry.contract or "none",
        "upstream": ", ".join(entry.upstream) or "none",
    }


def table_asset_spec(entry: CatalogEntry, *, config: DeclaredConfig) -> dg.AssetSpec:
    """The asset spec of a catalogued table, its deps being the table's catalogued upstream."""
    return dg.AssetSpec(
        key=table_key(entry.spec),
        description=entry.spec.description.strip() or None,
        deps=[upstream_key(u) for u in entry.upstream],
        owners=owners(config),
        group_name=group_name(entry.product),
        kinds=set(_KINDS.get(entry.layer, _DEFAULT_KINDS)),
        metadata=table_metadata(entry),
        tags={"layer": entry.layer.value},
    )


def topic_asset_specs(catalog: Catalog) -> list[dg.AssetSpec]:
    """Every Kafka topic a catalogued table reads, as an external asset."""
    return [
        dg.AssetSpec(
            key=upstream_key(KAFKA_UPSTREAM + topic),
            description=f"The Kafka topic {topic}.",
            group_name=KAFKA_GROUP,
            kinds={"kafka"},
        )
        for topic in catalog.kafka_topics()
    ]


def retry_policy(task: Task) -> dg.RetryPolicy:
    """Dagster's exponential backoff waits ``delay * (2 ** n - 1)`` before the n-th retry: the
    same first wait as the in-process runner's ``retry_backoff_seconds * 2 ** (n - 1)``."""
    return dg.RetryPolicy(
        max_retries=task.retries, delay=task.retry_backoff_seconds, backoff=dg.Backoff.EXPONENTIAL
    )


def quarantined_since(quarantine: TableSpec, lake_root: str, since: datetime) -> dict[str, int]:
    """Rows quarantined at ``since`` or later, per failed rule (a row failing two rules counts
    under both): what one run of the silver task quarantined."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from lakehouse_core.delta_reader import read_arrow

    try:
        rows = read_arrow(
            quarantine.location(lake_root),
            columns=["failed_rules"],
            filter=pc.field("quarantined_at") >= pa.scalar(since, type=pa.timestamp("us", tz="UTC")),
        )
    except TableNotFoundError:
        return {}
    counts: dict[str, int] = {}
    for failed in rows.column("failed_rules").to_pylist():
        for rule in failed or ():
            counts[rule] = counts.get(rule, 0) + 1
    return counts


def reporting(
    settings: LakehouseSettings | None, catalog: Catalog
) -> AbstractContextManager[list[RunRecorder]]:
    """Where an op's attempts report: the platform's recorders, or nowhere without settings."""
    if settings is None:
        return nullcontext([])
    return platform_recorders(settings, catalog=catalog)


def run_task(
    task: Task,
    *,
    pipeline: str,
    context: dg.AssetExecutionContext | dg.OpExecutionContext,
    upstream_outputs: Mapping[str, Mapping[str, Any]],
    recorders: Sequence[RunRecorder] = (),
) -> dict[str, Any]:
    """Run ``task`` as the in-process runner would, reporting the attempt to ``recorders``
    (run records, audit records, lineage); a data error becomes a Dagster failure that is not
    retried."""
    attempt = RunContext(context.run.run_id, pipeline, task.name, context.retry_number + 1, upstream_outputs)
    final = context.retry_number >= task.retries
    try:
        return run_attempt(task, attempt, recorders=recorders, final=final)
    except Exception as error:
        deterministic = deterministic_error(error)
        if deterministic is None:
            raise
        message = str(error)
        if deterministic is not error:
            message = f"{message} (caused by {type(deterministic).__name__}: {deterministic})"
        raise dg.Failure(
            description=f"{task.name}: {message} {not_retried(deterministic)}",
            metadata={"error_class": type(deterministic).__name__},
            allow_retries=False,
        ) from error


@dataclass(frozen=True)
class SilverChecks:
    """Where the quality rules' checks go (the silver events asset) and what they read."""

    events: TableSpec
    quarantine: TableSpec
    rules: Mapping[str, str]
    lake_root: str

    def specs(self) -> list[dg.AssetCheckSpec]:
        return [
            dg.AssetCheckSpec(
                name=rule, asset=table_key(self.events), description=f"Quarantines rows where {what}."
            )
            for rule, what in self.rules.items()
        ]

    def results(self, since: datetime, outputs: Mapping[str, Any]) -> Iterator[dg.AssetCheckResult]:
        """One result per rule: the task's own ``rows_quarantined`` (rule → rows) when it
        reports them, otherwise the quarantine rows stamped since the op started."""
        reported = outputs.get("rows_quarantined")
        counts: Mapping[str, int]
        if isinstance(reported, Mapping) and all(isinstance(v, int) for v in reported.values()):
            counts = reported
        else:
            counts = quarantined_since(self.quarantine, self.lake_root, since)
        for rule in self.rules:
            count = counts.get(rule, 0)
            yield dg.AssetCheckResult(
                asset_key=table_key(self.events),
                check_name=rule,
                passed=count == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"quarantined": dg.MetadataValue.int(count)},
            )


def upstream_first(entries: Sequence[CatalogEntry]) -> list[CatalogEntry]:
    """``entries`` with each after the ones among them it reads (Dagster wants a multi-asset's
    outputs in that order), otherwise in declaration order."""
    names = {e.qualified_name for e in entries}
    ordered: list[CatalogEntry] = []
    remaining = list(entries)
    while remaining:
        done = {e.qualified_name for e in ordered}
        ready = next(
            (e for e in remaining if all(u in done for u in e.upstream if u in names)),
            remaining[0],  # a cycle, which the catalog's lineage would show: declaration order
        )
        ordered.append(ready)
        remaining.remove(ready)
    return ordered


def _count(reported: Any, table: str) -> int | None:
    value = reported.get(table) if isinstance(reported, Mapping) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def task_asset(
    task: Task,
    pipeline: Pipeline,
    *,
    catalog: Catalog,
    config: DeclaredConfig,
    checks: SilverChecks | None = None,
    settings: LakehouseSettings | None = None,
) -> dg.AssetsDefinition:
    """One ``multi_asset`` for a task that writes tables, with ``checks`` on its outputs; it
    runs the task's prerequisites that write nothing first (in the runner's order). With
    ``settings``, every attempt reports where ``<product> pipeline`` reports
    (:func:`~lakehouse_platform.run_reporting.platform_recorders`)."""
    written = upstream_first([catalog.get(spec.qualified_name) for spec in task.writes])
    prerequisites = [
        pipeline.tasks[d] for d in pipeline.order if d in task.depends_on and not pipeline.tasks[d].writes
    ]
    product = pipeline.name

    @dg.multi_asset(
        name=f"{group_name(product)}__{task.name}",
        specs=[table_asset_spec(e, config=config) for e in written],
        check_specs=checks.specs() if checks is not None else None,
        retry_policy=retry_policy(task),
        description=f"The {task.name} task of {product}'s pipeline (the one `{product} pipeline` runs).",
        can_subset=False,
        op_tags={"product": product, "task": task.name},
    )
    def _asset(context: AssetExecutionContext) -> Iterator[dg.MaterializeResult[Any] | dg.AssetCheckResult]:
        started = datetime.now(tz=UTC)
        upstream: dict[str, Mapping[str, Any]] = {}
        with reporting(settings, catalog) as recorders:
            for before in prerequisites:
                upstream[before.name] = run_task(
                    before, pipeline=product, context=context, upstream_outputs={}, recorders=recorders
                )
            outputs = run_task(
                task, pipeline=product, context=context, upstream_outputs=upstream, recorders=recorders
            )
        reported = dg.MetadataValue.json(json.loads(json.dumps(outputs, default=str)))
        for entry in written:
            metadata: dict[str, Any] = {"task_outputs": reported}
            for name, counts in (("rows_written", "rows_written"), ("delta_version", "delta_versions")):
                value = _count(outputs.get(counts), entry.qualified_name)
                if value is not None:
                    metadata[name] = dg.MetadataValue.int(value)
            yield dg.MaterializeResult(asset_key=table_key(entry.spec), metadata=metadata)
        if checks is not None:
            yield from checks.results(started, outputs)

    return _asset


@dataclass(frozen=True)
class ProductDefinitions:
    """What one product contributes to the platform's Dagster definitions."""

    assets: list[dg.AssetsDefinition | dg.AssetSpec]
    jobs: list[UnresolvedAssetJobDefinition]
    schedules: list[dg.ScheduleDefinition]
    sensors: list[dg.SensorDefinition] = field(default_factory=list)


def schedule_for(
    product: str, config: DeclaredConfig, job: UnresolvedAssetJobDefinition
) -> dg.ScheduleDefinition:
    """The product's job on its configured ``schedule`` (a cron string) or every 15 minutes;
    stopped until someone turns it on."""
    cron = getattr(config, "schedule", None)
    return dg.ScheduleDefinition(
        name=f"{group_name(product)}_schedule",
        job=job,
        cron_schedule=cron if isinstance(cron, str) and cron.strip() else DEFAULT_SCHEDULE,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Runs {product}'s assets (what `{product} pipeline` runs) as one job.",
    )


def product_definitions(
    product: str,
    declared: ProductAssets,
    *,
    catalog: Catalog,
    config: DeclaredConfig,
    lake_root: str,
    settings: LakehouseSettings | None = None,
) -> ProductDefinitions:
    """The assets (one per task of the declared pipeline that writes tables, with the checks of
    the quality rules on the table they are about), the product's job and its schedule; the
    product's tables no task writes are listed as external assets."""
    pipeline = declared.pipeline
    checks = [SilverChecks(q.table, q.quarantine, q.rules, lake_root) for q in declared.quality]
    assets: list[dg.AssetsDefinition | dg.AssetSpec] = [
        task_asset(
            task,
            pipeline,
            catalog=catalog,
            config=config,
            checks=next((c for c in checks if c.events in task.writes), None),
            settings=settings,
        )
        for task in (pipeline.tasks[name] for name in pipeline.order)
        if task.writes
    ]
    written = {spec.qualified_name for task in pipeline.tasks.values() for spec in task.writes}
    assets.extend(
        table_asset_spec(entry, config=config)
        for entry in catalog.select(product=product)
        if entry.qualified_name not in written
    )
    job = dg.define_asset_job(
        job_name(product),
        selection=dg.AssetSelection.groups(group_name(product)).materializable(),
        description=f"Every table of {product}, in dependency order.",
        executor_def=dg.in_process_executor,
    )
    return ProductDefinitions(
        assets,
        [job],
        [schedule_for(product, config, job)],
        sensors_for(product, config, job, catalog, settings),
    )


def sensors_for(
    product: str,
    config: DeclaredConfig,
    job: UnresolvedAssetJobDefinition,
    catalog: Catalog,
    settings: LakehouseSettings | None,
) -> list[dg.SensorDefinition]:
    """The product's new-records sensor, when its configuration asks for one and its tables
    read from Kafka; stopped until someone turns it on."""
    sensor = getattr(config, "sensor", None)
    topics = catalog.kafka_topics(product=product)
    if not isinstance(sensor, SensorConfig) or not sensor.on_new_records or not topics:
        return []
    bootstrap = (settings or LakehouseSettings()).kafka_bootstrap_servers
    return [
        new_records_sensor(
            product,
            f"{group_name(product)}_new_records",
            job,
            topics,
            bootstrap_servers=bootstrap,
            config=sensor,
        )
    ]


def declared_tables(product: ProductDeclaration, *, catalog: Catalog) -> ProductDefinitions:
    """A product the platform cannot run yet: its tables as external assets, so the graph and
    its lineage stay whole."""
    config = product.load_config()
    return ProductDefinitions(
        [table_asset_spec(entry, config=config) for entry in catalog.select(product=product.name)], [], []
    )
