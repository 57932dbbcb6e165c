"""Change data capture from PostgreSQL with Debezium: the connector's configuration, and the pure
transforms that turn its change events (landed in bronze like any topic) into a table's change
history and current state.

Debezium writes one topic per table, ``<topic_prefix>.<schema>.<table>``, keyed by the primary
key: first a snapshot of the existing rows (``op = r``), then every insert, update and delete
(``c``, ``u``, ``d``) read from the write-ahead log through the ``pgoutput`` plug-in, each with
its log position (``source.lsn``). The ``d`` event carries a delete: the topics are not
compacted, so no tombstone follows it (bronze keeps every record's payload, never an empty one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


@dataclass(frozen=True, kw_only=True)
class PostgresCdcSource:
    """One PostgreSQL database captured by one Debezium connector."""

    name: str
    host: str
    port: int
    user: str
    database: str
    tables: tuple[str, ...]
    topic_prefix: str
    password: str = ""

    @property
    def slot_name(self) -> str:
        return "".join(c if c.isalnum() else "_" for c in self.name.lower())

    def topic(self, table: str) -> str:
        """The topic of ``table`` (``schema.table``)."""
        return f"{self.topic_prefix}.{table}"

    def connector_config(self) -> dict[str, str]:
        """Kafka Connect configuration of the Debezium connector: a snapshot of the existing rows
        first, then streaming from the replication slot; its topics created by the worker."""
        return {
            "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
            "tasks.max": "1",
            "plugin.name": "pgoutput",
            "database.hostname": self.host,
            "database.port": str(self.port),
            "database.user": self.user,
            "database.password": self.password,
            "database.dbname": self.database,
            "topic.prefix": self.topic_prefix,
            "table.include.list": ",".join(self.tables),
            "slot.name": self.slot_name,
            "publication.name": f"{self.slot_name}_publication",
            "publication.autocreate.mode": "filtered",
            "snapshot.mode": "initial",
            "decimal.handling.mode": "double",
            "time.precision.mode": "adaptive_time_microseconds",
            "tombstones.on.delete": "false",
            "topic.creation.default.replication.factor": "1",
            "topic.creation.default.partitions": "1",
            "topic.creation.default.cleanup.policy": "delete",
        }


#: Debezium's semantic types (``schema.name``) of the row fields, and how their JSON values
#: become Spark values: days since the epoch, ISO-8601 text, micro- or milliseconds.
_LOGICAL_TYPES = {
    "io.debezium.time.Date": "date",
    "org.apache.kafka.connect.data.Date": "date",
    "io.debezium.time.ZonedTimestamp": "timestamp",
    "io.debezium.time.MicroTimestamp": "timestamp_micros",
    "io.debezium.time.Timestamp": "timestamp_millis",
    "org.apache.kafka.connect.data.Timestamp": "timestamp_millis",
}
_PHYSICAL_TYPES = {
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "bigint",
    "float": "double",
    "double": "double",
    "boolean": "boolean",
    "string": "string",
    "bytes": "string",
}
#: The columns every CDC table adds to the source's: the change's kind, its log position, and
#: where it sits in Kafka (the order of changes with one log position, e.g. a snapshot's).
CHANGE_COLUMNS = ("_op", "_lsn", "_source_ts", "_deleted", "_topic", "_partition", "_offset")


@dataclass(frozen=True)
class RowField:
    """One column of a captured table, as Debezium's schema describes it."""

    name: str
    json_type: str
    """How the value is written in the change event's JSON (Spark DDL type)."""
    spark_type: str
    """The column's type in the lakehouse (Spark DDL type)."""


def row_fields(value_schema: dict[str, object]) -> tuple[RowField, ...]:
    """The row's columns from one change event's ``schema`` (the ``after`` struct)."""
    envelope = value_schema.get("fields")
    if not isinstance(envelope, list):
        raise ValueError("not a Debezium change event schema: no 'fields'")
    rows = [f for f in envelope if isinstance(f, dict) and f.get("field") in ("after", "before")]
    if not rows:
        raise ValueError("not a Debezium change event schema: no 'before'/'after' struct")
    fields: list[RowField] = []
    for column in rows[-1].get("fields", []):
        physical = _PHYSICAL_TYPES.get(str(column.get("type")), "string")
        logical = _LOGICAL_TYPES.get(str(column.get("name", "")))
        target = physical if logical is None else ("date" if logical == "date" else "timestamp")
        fields.append(RowField(str(column["field"]), physical, target))
    return tuple(fields)


def union_fields(versions: list[tuple[RowField, ...]]) -> tuple[RowField, ...]:
    """Columns of several schema versions of one table: every column once, in the order it first
    appears (a column added to the source comes last)."""
    merged: dict[str, RowField] = {}
    for version in versions:
        for column in version:
            merged.setdefault(column.name, column)
    return tuple(merged.values())


def _convert(raw: Column, column: RowField, logical: str | None) -> Column:
    from pyspark.sql import functions as F

    if logical == "date":
        return F.date_add(F.lit("1970-01-01").cast("date"), raw)
    if logical == "timestamp":
        return F.to_timestamp(raw)
    if logical == "timestamp_micros":
        return F.timestamp_micros(raw)
    if logical == "timestamp_millis":
        return F.timestamp_millis(raw)
    return raw.cast(column.spark_type)


def logical_types(value_schemas: list[dict[str, object]]) -> dict[str, str]:
    """Column name → Debezium semantic type kind, over every schema version."""
    kinds: dict[str, str] = {}
    for schema in value_schemas:
        for envelope in schema.get("fields", []):  # type: ignore[attr-defined]
            if envelope.get("field") == "after":
                for column in envelope.get("fields", []):
                    kind = _LOGICAL_TYPES.get(str(column.get("name", "")))
                    if kind:
                        kinds.setdefault(str(column["field"]), kind)
    return kinds


def parse_changes(bronze: DataFrame, fields: tuple[RowField, ...], kinds: dict[str, str]) -> DataFrame:
    """Bronze rows of one table's topic → one row per change (pure): the row's columns (the
    new row, or for a delete the old one) plus :data:`CHANGE_COLUMNS`. Tombstones, should a
    connector send them, are dropped: the delete event before each carries the change."""
    from pyspark.sql import functions as F

    row = ", ".join(f"`{f.name}` {f.json_type}" for f in fields)
    payload = (
        f"struct<before: struct<{row}>, after: struct<{row}>, op: string, "
        "source: struct<lsn: bigint, ts_ms: bigint>>"
    )
    parsed = bronze.where(F.col("value").isNotNull() & (F.length("value") > 0)).select(
        F.from_json(F.get_json_object("value", "$.payload"), payload).alias("p"),
        "topic",
        "partition",
        "offset",
    )
    deleted = F.col("p.op") == "d"
    image = F.when(deleted, F.col("p.before")).otherwise(F.col("p.after"))
    return parsed.select(
        *(_convert(image[f.name], f, kinds.get(f.name)).alias(f.name) for f in fields),
        F.col("p.op").alias("_op"),
        F.col("p.source.lsn").alias("_lsn"),
        F.timestamp_millis(F.col("p.source.ts_ms")).alias("_source_ts"),
        deleted.alias("_deleted"),
        F.col("topic").alias("_topic"),
        F.col("partition").alias("_partition"),
        F.col("offset").alias("_offset"),
    )


def latest_per_key(changes: DataFrame, keys: tuple[str, ...]) -> DataFrame:
    """The last change of each primary key (pure): by log position, then by Kafka offset."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(*keys).orderBy(F.col("_lsn").desc(), F.col("_offset").desc())
    return changes.withColumn("_rank", F.row_number().over(order)).where("_rank = 1").drop("_rank")


@dataclass(frozen=True, kw_only=True)
class CdcTable:
    """Where one captured table's changes come from (its topic in a bronze table) and go to."""

    topic: str
    keys: tuple[str, ...]
    bronze_location: str
    history_location: str
    current_location: str
    checkpoint: str
    derive: Callable[[DataFrame], DataFrame] | None = None
    """Columns the lakehouse adds to each change before it is stored (a subject key computed
    from a column of the row, say): a transform of the parsed changes that keeps every column
    and row; the history and the current state carry what it adds."""


def apply_change_batch(spark: SparkSession, table: CdcTable, bronze: DataFrame) -> int:
    """Apply one batch of bronze rows: add its changes to the history, once per key and log
    position (a change Connect sends again after a restart is one change), then set each
    affected key's current state from its last change in the history: the row, or no row after
    a delete, so a late repeat of an older change never brings a deleted row back. A column new
    in the source is added to both tables (schema evolution on these merges only). Returns the
    number of changes in the batch."""
    import json

    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    mine = bronze.where(F.col("topic") == table.topic).persist()
    try:
        schemas = [
            json.loads(r[0])
            for r in mine.select(F.get_json_object("value", "$.schema").alias("s"))
            .where("s IS NOT NULL")
            .distinct()
            .collect()
        ]
        if not schemas:
            return 0
        fields = union_fields([row_fields(s) for s in schemas])
        identity = (*table.keys, "_lsn", "_op")
        parsed = parse_changes(mine, fields, logical_types(schemas)).dropDuplicates(list(identity))
        changes = (parsed if table.derive is None else table.derive(parsed)).persist()
        count = changes.count()
        if not DeltaTable.isDeltaTable(spark, table.history_location):
            changes.limit(0).write.format("delta").save(table.history_location)
        (
            DeltaTable.forPath(spark, table.history_location)
            .alias("h")
            .merge(changes.alias("c"), " AND ".join(f"h.`{c}` = c.`{c}`" for c in identity))
            .withSchemaEvolution()
            .whenNotMatchedInsertAll()
            .execute()
        )
        affected = changes.select(*table.keys).distinct()
        history = spark.read.format("delta").load(table.history_location)
        latest = latest_per_key(history.join(affected, list(table.keys), "left_semi"), table.keys)
        if not DeltaTable.isDeltaTable(spark, table.current_location):
            latest.limit(0).write.format("delta").save(table.current_location)
        (
            DeltaTable.forPath(spark, table.current_location)
            .alias("t")
            .merge(latest.alias("c"), " AND ".join(f"t.`{k}` = c.`{k}`" for k in table.keys))
            .withSchemaEvolution()
            .whenMatchedDelete(condition="c._deleted")
            .whenMatchedUpdateAll(condition="c._lsn <> t._lsn OR c._offset <> t._offset")
            .whenNotMatchedInsertAll(condition="NOT c._deleted")
            .execute()
        )
        changes.unpersist()
        return count
    finally:
        mine.unpersist()


def run_cdc_apply_together(spark: SparkSession, tables: Sequence[CdcTable], *, checkpoint: str) -> int:
    """Apply the bronze rows of several tables' topics landed in one bronze table with one
    stream (``checkpoint``; the tables' own checkpoints are not used): each batch is applied to
    the tables in the order given, so a table whose :attr:`CdcTable.derive` reads another's
    history (orders reading their customers') sees that batch's changes of it. Returns the
    number of bronze rows read."""
    from lakehouse_core.incremental import IncrementalSource, run_incrementally

    locations = {t.bronze_location for t in tables}
    if len(locations) != 1:
        raise ValueError(f"the tables are landed in more than one bronze table: {sorted(locations)}")

    def apply(batch: DataFrame, _: int) -> None:
        for table in tables:
            apply_change_batch(spark, table, batch)

    run = run_incrementally(
        spark,
        IncrementalSource(location=locations.pop(), checkpoint=checkpoint),
        apply,
        name="cdc-apply-" + "-".join(t.topic for t in tables),
    )
    return run.input_rows


def run_cdc_apply(spark: SparkSession, table: CdcTable) -> int:
    """Apply every bronze row of the table's topic not applied yet (exactly once per bronze
    commit, through the checkpoint); returns the number of bronze rows read."""
    return run_cdc_apply_together(spark, [table], checkpoint=table.checkpoint)
