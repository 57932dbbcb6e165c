"""Delta Lake tables through Spark: create, append (optionally idempotent), MERGE upsert,
insert-if-new, scoped replacement, partition-scoped overwrite, compaction, time travel and history.

Writers retry on Delta's optimistic-concurrency conflicts (e.g. a compaction committing while a
stream appends), so two writers on one table never corrupt it and a lost race is not a failure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from lakehouse_core.errors import SchemaMismatchError, TableError, TableNotFoundError
from lakehouse_core.tables import TableSpec, local_path

if TYPE_CHECKING:
    from delta.tables import DeltaTable
    from pyspark.sql import Column, DataFrame, SparkSession

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Transaction:
    """Identifies one logical write so that replaying it is a no-op (Delta ``txnAppId``/
    ``txnVersion``): a streaming ``foreachBatch`` passes its query id and batch id."""

    app_id: str
    version: int


def _conflict_exceptions() -> tuple[type[Exception], ...]:
    """Delta's commit-conflict exceptions as PySpark raises them.

    In Delta's JVM they all extend ``DeltaConcurrentModificationException``, but the Python
    classes in ``delta.exceptions`` are siblings: catching the base alone misses
    ``ConcurrentAppendException`` and the rest, which are the conflicts that actually happen.
    """
    from delta import exceptions as delta_errors

    return (
        delta_errors.DeltaConcurrentModificationException,
        delta_errors.ConcurrentWriteException,
        delta_errors.MetadataChangedException,
        delta_errors.ProtocolChangedException,
        delta_errors.ConcurrentAppendException,
        delta_errors.ConcurrentDeleteReadException,
        delta_errors.ConcurrentDeleteDeleteException,
        delta_errors.ConcurrentTransactionException,
    )


def with_conflict_retry(
    operation: Callable[[], T], *, table: str, attempts: int = 5, backoff_seconds: float = 0.2
) -> T:
    """Run ``operation``, retrying on Delta concurrent-modification conflicts with backoff."""
    conflicts = _conflict_exceptions()
    for attempt in range(1, attempts + 1):
        try:
            return operation()
        except conflicts as exc:
            if attempt == attempts:
                raise TableError(f"gave up after {attempts} conflicting commits", table=table) from exc
            log.warning(
                "delta write conflict, retrying",
                extra={"table": table, "attempt": attempt, "error": type(exc).__name__},
            )
            time.sleep(backoff_seconds * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def table_exists(spark: SparkSession, location: str) -> bool:
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, location))


def ensure_table(spark: SparkSession, spec: TableSpec, *, lake_root: str) -> DeltaTable:
    """Create the table at its location if missing; verify the spec's columns if present.

    A nullable column the spec has and the stored table lacks is an additive change (the schema
    history records it as a new revision): it is added, and the rows written before read it as
    NULL. Any other difference is a :class:`SchemaMismatchError`.
    """
    from delta.tables import DeltaTable

    location = spec.location(lake_root)
    existing = _existing_table(spark, location)
    if existing is not None and _has_columns(existing.toDF().schema, spec):
        return existing
    if existing is None and _create_locally(spec, location):
        table = DeltaTable.forPath(spark, location)
        _check_columns(table.toDF().schema, spec)
        return table
    builder = DeltaTable.createIfNotExists(spark).location(location).addColumns(spec.schema)
    if spec.partition_by:
        builder = builder.partitionedBy(*spec.partition_by)
    if spec.description:
        builder = builder.comment(spec.description)
    for key, value in spec.table_properties().items():
        builder = builder.property(key, value)
    table = builder.execute()
    present = set(table.toDF().columns)
    added = [f for f in spec.schema.fields if f.name not in present and f.nullable]
    if added:
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in added)
        spark.sql(f"ALTER TABLE delta.`{location}` ADD COLUMNS ({columns})")
        log.info("%s: added columns %s", spec.qualified_name, ", ".join(f.name for f in added))
        table = DeltaTable.forPath(spark, location)
    _check_columns(table.toDF().schema, spec)
    return table


def _create_locally(spec: TableSpec, location: str) -> bool:
    """Create a table on the local filesystem as delta-rs's commit 0; False for object storage.

    A Spark ``CREATE TABLE`` is a catalog command with several log reads (about 0.3 s on a warm
    session), delta-rs writes the same first commit in milliseconds: schema (Spark's JSON is
    Delta's), partitioning, description and properties. Spark then writes to it as to any Delta
    table. Object storage keeps the Spark path, whose credentials the session carries. A writer
    that lost the race to create the table finds it created.
    """
    from deltalake import DeltaTable as RsDeltaTable
    from deltalake import Schema
    from deltalake.exceptions import DeltaError

    path = local_path(location)
    if path is None:
        return False
    try:
        RsDeltaTable.create(
            path,
            Schema.from_json(spec.schema.json()),
            mode="ignore",
            partition_by=list(spec.partition_by) or None,
            description=spec.description or None,
            configuration=dict(spec.table_properties()),
        )
    except DeltaError:
        if not RsDeltaTable.is_deltatable(path):
            raise
    return True


def _existing_table(spark: SparkSession, location: str) -> DeltaTable | None:
    """The Delta table at ``location``, or None when there is none.

    Every write helper ensures its table first; on a table that exists, ``CREATE TABLE IF NOT
    EXISTS`` would change nothing but still costs a catalog command and a log read per call, so
    the table is opened directly when its snapshot already has the spec's columns.
    """
    from delta.tables import DeltaTable
    from pyspark.errors import AnalysisException

    try:
        return DeltaTable.forPath(spark, location)
    except AnalysisException:
        return None


def _has_columns(actual: Any, spec: TableSpec) -> bool:
    present = {f.name: f.dataType for f in actual.fields}
    return all(present.get(f.name) == f.dataType for f in spec.schema.fields)


def _check_columns(actual: Any, spec: TableSpec) -> None:
    present = {f.name: f.dataType for f in actual.fields}
    problems = [
        f"{f.name} ({'missing' if f.name not in present else f'is {present[f.name].simpleString()}'}"
        f", expected {f.dataType.simpleString()})"
        for f in spec.schema.fields
        if present.get(f.name) != f.dataType
    ]
    if problems:
        raise SchemaMismatchError(
            "table schema differs from its spec: " + "; ".join(problems), table=spec.qualified_name
        )


def append(
    df: DataFrame,
    spec: TableSpec,
    *,
    lake_root: str,
    transaction: Transaction | None = None,
) -> None:
    """Append rows; with a ``transaction`` the append happens at most once."""
    _save(df, spec, lake_root=lake_root, mode="append", transaction=transaction)


def overwrite_partitions(
    df: DataFrame,
    spec: TableSpec,
    *,
    lake_root: str,
    transaction: Transaction | None = None,
    partitions: Collection[date | str | int] | None = None,
) -> None:
    """Replace partitions of the table with ``df``; other partitions are untouched.

    This is how gold tables are recomputed incrementally: compute the affected dates only and
    overwrite those. Without ``partitions``, exactly the partitions present in ``df`` are
    replaced (an empty ``df`` changes nothing). With ``partitions`` (values of the first
    partition column), those are replaced even where ``df`` has no rows for them, so a day
    that lost all its rows is emptied.
    """
    if not spec.partition_by:
        raise TableError("partition overwrite needs a partitioned table", table=spec.qualified_name)
    if partitions is None:
        options = {"partitionOverwriteMode": "dynamic"}
    elif not partitions:
        return
    else:
        values = ", ".join(_sql_literal(v) for v in sorted(partitions, key=str))
        options = {"replaceWhere": f"`{spec.partition_by[0]}` IN ({values})"}
    _save(df, spec, lake_root=lake_root, mode="overwrite", transaction=transaction, options=options)


#: A table write, ready to run.
Write = Callable[[], None]

#: How many independent writes :func:`write_all` runs at once.
WRITE_CONCURRENCY = 4


def write_all(writes: Sequence[Write], *, concurrency: int = WRITE_CONCURRENCY) -> None:
    """Run independent table writes (each to its own table) at the same time, and return when
    all have finished.

    A small Delta write spends most of its time on the driver (reconstructing the snapshot,
    planning, committing) and waiting for a few tiny tasks, so one write leaves the machine
    mostly idle; writes to different tables never conflict, and Spark runs the jobs of several
    threads at once. Every write runs to its end, then the first failure (in ``writes`` order)
    is raised, so no write is still running when the caller sees it. The writes must not read
    one another's tables: their order is not defined.
    """
    if len(writes) <= 1 or concurrency <= 1:
        for write in writes:
            write()
        return
    with ThreadPoolExecutor(
        max_workers=min(concurrency, len(writes)), thread_name_prefix="delta-write"
    ) as pool:
        futures = [pool.submit(write) for write in writes]
    for future in futures:
        future.result()


def _sql_literal(value: date | str | int) -> str:
    if isinstance(value, date):
        return f"DATE'{value.isoformat()}'"
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def merge_upsert(
    df: DataFrame,
    spec: TableSpec,
    *,
    lake_root: str,
    keys: Sequence[str],
    update_condition: str | None = None,
) -> None:
    """Upsert ``df`` into the table on ``keys``: update matches (where ``update_condition``
    holds, with ``t``/``s`` as target/source aliases) and insert the rest."""
    if not keys:
        raise TableError("merge needs at least one key column", table=spec.qualified_name)
    table = ensure_table(df.sparkSession, spec, lake_root=lake_root)
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    source = df.select(*spec.schema.fieldNames())

    def run() -> None:
        (
            table.alias("t")
            .merge(source.alias("s"), on)
            .whenMatchedUpdateAll(condition=update_condition)
            .whenNotMatchedInsertAll()
            .execute()
        )

    _write(run, spec)


def _on(keys: Sequence[str], prune: str | None) -> str:
    condition = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    return f"({condition}) AND ({prune})" if prune else condition


def merge_insert_new(
    df: DataFrame,
    spec: TableSpec,
    *,
    lake_root: str,
    keys: Sequence[str],
    target_predicate: str | None = None,
) -> None:
    """Insert the rows whose ``keys`` are not in the table yet; existing rows stay untouched.

    Replaying the same rows is a no-op, which makes a re-run batch idempotent.
    ``target_predicate`` (on ``t``) limits which partitions are compared, e.g. a date window.
    """
    table = ensure_table(df.sparkSession, spec, lake_root=lake_root)
    source = df.select(*spec.schema.fieldNames())

    def run() -> None:
        (
            table.alias("t")
            .merge(source.alias("s"), _on(keys, target_predicate))
            .whenNotMatchedInsertAll()
            .execute()
        )

    _write(run, spec)


def merge_update_columns(
    df: DataFrame,
    spec: TableSpec,
    *,
    lake_root: str,
    keys: Sequence[str],
    columns: Sequence[str],
    target_predicate: str | None = None,
) -> None:
    """Set ``columns`` from ``df`` on the rows matching ``keys`` where a value differs."""
    table = ensure_table(df.sparkSession, spec, lake_root=lake_root)
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in columns)
    assignments: dict[str, str | Column] = {c: f"s.`{c}`" for c in columns}

    def run() -> None:
        (
            table.alias("t")
            .merge(df.select(*keys, *columns).alias("s"), _on(keys, target_predicate))
            .whenMatchedUpdate(condition=changed, set=dict(assignments))
            .execute()
        )

    _write(run, spec)


def replace_rows(
    new_rows: DataFrame,
    old_rows: DataFrame,
    spec: TableSpec,
    *,
    lake_root: str,
    key: str,
    target_predicate: str | None = None,
) -> None:
    """Make the table hold ``new_rows`` instead of ``old_rows``, in one atomic MERGE.

    ``old_rows`` are the rows currently in the recomputed scope (e.g. some visitors' days):
    those whose ``key`` is absent from ``new_rows`` are deleted, the others updated, and new
    keys inserted. Rows outside the scope are untouched.
    """
    from pyspark.sql import functions as F

    table = ensure_table(new_rows.sparkSession, spec, lake_root=lake_root)
    columns = spec.schema.fieldNames()
    upserts = new_rows.select(*columns).withColumn("_delete", F.lit(False))
    deletes = (
        old_rows.select(key)
        .join(new_rows.select(key), on=key, how="left_anti")
        .select(*[F.col(key) if c == key else F.lit(None).alias(c) for c in columns])
        .withColumn("_delete", F.lit(True))
    )
    source = upserts.unionByName(deletes)
    assignments: dict[str, str | Column] = {c: f"s.`{c}`" for c in columns}

    def run() -> None:
        (
            table.alias("t")
            .merge(source.alias("s"), _on([key], target_predicate))
            .whenMatchedDelete(condition="s._delete")
            .whenMatchedUpdate(set=assignments)
            .whenNotMatchedInsert(condition="NOT s._delete", values=assignments)
            .execute()
        )

    _write(run, spec)


def _save(
    df: DataFrame,
    spec: TableSpec,
    *,
    lake_root: str,
    mode: Literal["append", "overwrite"],
    transaction: Transaction | None,
    options: Mapping[str, str] | None = None,
) -> None:
    """Write ``df`` in the spec's column order, creating the table first if needed."""
    ensure_table(df.sparkSession, spec, lake_root=lake_root)
    writer = df.select(*spec.schema.fieldNames()).write.format("delta").mode(mode).options(**(options or {}))
    if transaction is not None:
        writer = writer.option("txnAppId", transaction.app_id).option("txnVersion", transaction.version)
    _write(lambda: writer.save(spec.location(lake_root)), spec)


def _write(operation: Callable[[], None], spec: TableSpec) -> None:
    from pyspark.errors import AnalysisException

    try:
        with_conflict_retry(operation, table=spec.qualified_name)
    except AnalysisException as exc:
        raise SchemaMismatchError(str(exc).splitlines()[0], table=spec.qualified_name) from exc


def read_table(
    spark: SparkSession,
    spec: TableSpec,
    *,
    lake_root: str,
    version: int | None = None,
    timestamp: datetime | str | None = None,
) -> DataFrame:
    """Read the table, optionally as of a version or timestamp (time travel)."""
    location = spec.location(lake_root)
    if not table_exists(spark, location):
        raise TableNotFoundError(f"no Delta table at {location}", table=spec.qualified_name)
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    if timestamp is not None:
        reader = reader.option("timestampAsOf", str(timestamp))
    return reader.load(location)


def table_history(
    spark: SparkSession, spec: TableSpec, *, lake_root: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """Commits of the table, newest first: version, timestamp, operation and its metrics."""
    from delta.tables import DeltaTable

    location = spec.location(lake_root)
    if not table_exists(spark, location):
        raise TableNotFoundError(f"no Delta table at {location}", table=spec.qualified_name)
    table = DeltaTable.forPath(spark, location)
    frame = table.history(limit) if limit else table.history()
    columns = ["version", "timestamp", "operation", "operationParameters", "operationMetrics"]
    return [row.asDict(recursive=True) for row in frame.select(*columns).collect()]


@dataclass(frozen=True)
class Compaction:
    """What one compaction did, from Delta's OPTIMIZE metrics. Nothing to do is all zeros."""

    files_removed: int
    files_added: int
    bytes_removed: int
    bytes_added: int
    partitions_optimized: int

    @property
    def changed(self) -> bool:
        """True when a commit rewrote files; False when every partition was already compact."""
        return self.files_removed > 0


def compact(spark: SparkSession, spec: TableSpec, *, lake_root: str, where: str | None = None) -> Compaction:
    """Bin-pack the table's small files into fewer large ones (Delta OPTIMIZE); rows are unchanged.

    ``where`` limits it to some partitions: a predicate on partition columns only, e.g.
    ``"ingest_date = '2026-03-02'"``. Safe while a stream appends to the table (a blind append
    never conflicts with it); a conflict with a writer that removed the same files (a MERGE,
    DELETE or another compaction) is retried on a fresh snapshot.
    """
    from delta.tables import DeltaTable
    from pyspark.errors import AnalysisException

    location = spec.location(lake_root)
    if not table_exists(spark, location):
        raise TableNotFoundError(f"no Delta table at {location}", table=spec.qualified_name)

    def run() -> Any:
        builder = DeltaTable.forPath(spark, location).optimize()
        if where:
            builder = builder.where(where)
        return builder.executeCompaction().select("metrics").first()

    try:
        row = with_conflict_retry(run, table=spec.qualified_name)
    except AnalysisException as exc:
        message = f"cannot compact where {where!r}: {str(exc).splitlines()[0]}"
        raise TableError(message, table=spec.qualified_name) from exc
    metrics = row["metrics"] if row is not None else None
    if metrics is None:
        return Compaction(0, 0, 0, 0, 0)
    result = Compaction(
        files_removed=int(metrics["numFilesRemoved"]),
        files_added=int(metrics["numFilesAdded"]),
        bytes_removed=int(metrics["filesRemoved"]["totalSize"]),
        bytes_added=int(metrics["filesAdded"]["totalSize"]),
        partitions_optimized=int(metrics["partitionsOptimized"]),
    )
    log.info("delta table compacted", extra={"table": spec.qualified_name, **asdict(result)})
    return result


@contextmanager
def commit_metadata(spark: SparkSession, text: str) -> Iterator[None]:
    """Commits made by this session inside the block carry ``text`` as their user metadata
    (``commitInfo.userMetadata``), e.g. :data:`~lakehouse_core.incremental.EXPIRY_METADATA`."""
    key = "spark.databricks.delta.commitInfo.userMetadata"
    before = spark.conf.get(key, None)
    spark.conf.set(key, text)
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)
