"""Delta tables through Spark, read back through delta-rs: both engines must agree."""

import pyarrow.compute as pc
import pytest
from delta import exceptions as delta_errors
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse_core.delta import (
    Transaction,
    append,
    compact,
    ensure_table,
    merge_insert_new,
    merge_update_columns,
    merge_upsert,
    overwrite_partitions,
    read_table,
    replace_rows,
    table_history,
    with_conflict_retry,
)
from lakehouse_core.delta_reader import DeltaReader, read_arrow
from lakehouse_core.errors import SchemaMismatchError, TableError, TableNotFoundError
from lakehouse_core.tables import Layer, TableSpec

pytestmark = pytest.mark.integration

SCHEMA = T.StructType(
    [
        T.StructField("day", T.StringType(), False),
        T.StructField("page", T.StringType(), False),
        T.StructField("views", T.LongType(), False),
    ]
)
DAILY = TableSpec(name="page_views", layer=Layer.GOLD, product="demo", schema=SCHEMA, partition_by=("day",))


def rows_in_spark(spark: SparkSession, lake_root: str, **options: int) -> list[tuple[str, str, int]]:
    frame = read_table(spark, DAILY, lake_root=lake_root, **options)  # type: ignore[arg-type]
    return sorted((r.day, r.page, r.views) for r in frame.collect())


def rows_in_delta_rs(lake_root: str) -> list[tuple[str, str, int]]:
    table = read_arrow(DAILY.location(lake_root))
    return sorted(
        zip(table["day"].to_pylist(), table["page"].to_pylist(), table["views"].to_pylist(), strict=True)
    )


def test_spark_writes_and_delta_rs_reads_the_same_rows(spark: SparkSession, lake_root: str) -> None:
    data = [("2026-01-01", "/", 3), ("2026-01-01", "/pricing", 1), ("2026-01-02", "/", 5)]
    append(spark.createDataFrame(data, SCHEMA), DAILY, lake_root=lake_root)

    assert rows_in_spark(spark, lake_root) == sorted(data)
    assert rows_in_delta_rs(lake_root) == sorted(data)
    filtered = read_arrow(DAILY.location(lake_root), columns=["page"], filter=pc.field("day") == "2026-01-02")
    assert filtered.column_names == ["page"]
    assert filtered["page"].to_pylist() == ["/"]


def test_transaction_makes_a_replayed_append_a_no_op(spark: SparkSession, lake_root: str) -> None:
    frame = spark.createDataFrame([("2026-01-01", "/", 1)], SCHEMA)
    for _ in range(3):
        append(frame, DAILY, lake_root=lake_root, transaction=Transaction("stream-1", 0))
    append(frame, DAILY, lake_root=lake_root, transaction=Transaction("stream-1", 1))
    assert len(rows_in_spark(spark, lake_root)) == 2


def test_partition_overwrite_replaces_only_the_partitions_given(spark: SparkSession, lake_root: str) -> None:
    first = [("2026-01-01", "/", 3), ("2026-01-02", "/", 5)]
    append(spark.createDataFrame(first, SCHEMA), DAILY, lake_root=lake_root)
    overwrite_partitions(spark.createDataFrame([("2026-01-02", "/", 6)], SCHEMA), DAILY, lake_root=lake_root)
    assert rows_in_delta_rs(lake_root) == [("2026-01-01", "/", 3), ("2026-01-02", "/", 6)]


def test_partition_overwrite_needs_a_partitioned_table(spark: SparkSession, lake_root: str) -> None:
    flat = TableSpec(name="flat", layer=Layer.GOLD, product="demo", schema=SCHEMA)
    with pytest.raises(TableError, match="partitioned"):
        overwrite_partitions(spark.createDataFrame([("d", "/", 1)], SCHEMA), flat, lake_root=lake_root)


def test_merge_upserts_on_keys(spark: SparkSession, lake_root: str) -> None:
    append(
        spark.createDataFrame([("2026-01-01", "/", 3), ("2026-01-01", "/a", 1)], SCHEMA),
        DAILY,
        lake_root=lake_root,
    )
    changes = spark.createDataFrame([("2026-01-01", "/", 4), ("2026-01-01", "/b", 2)], SCHEMA)
    merge_upsert(changes, DAILY, lake_root=lake_root, keys=["day", "page"])
    expected = [("2026-01-01", "/", 4), ("2026-01-01", "/a", 1), ("2026-01-01", "/b", 2)]
    assert rows_in_spark(spark, lake_root) == expected
    assert rows_in_delta_rs(lake_root) == expected


def test_time_travel_and_history(spark: SparkSession, lake_root: str) -> None:
    append(spark.createDataFrame([("2026-01-01", "/", 1)], SCHEMA), DAILY, lake_root=lake_root)
    append(spark.createDataFrame([("2026-01-01", "/x", 2)], SCHEMA), DAILY, lake_root=lake_root)
    history = table_history(spark, DAILY, lake_root=lake_root)
    assert [h["operation"] for h in history] == ["WRITE", "WRITE", "CREATE TABLE"]
    assert history[0]["operationMetrics"]["numOutputRows"] == "1"
    assert rows_in_spark(spark, lake_root, version=1) == [("2026-01-01", "/", 1)]
    assert len(rows_in_spark(spark, lake_root)) == 2


def test_reader_sees_new_versions(spark: SparkSession, lake_root: str) -> None:
    append(spark.createDataFrame([("2026-01-01", "/", 1)], SCHEMA), DAILY, lake_root=lake_root)
    reader = DeltaReader(DAILY.location(lake_root))
    before = reader.version()
    assert reader.read().num_rows == 1
    append(spark.createDataFrame([("2026-01-02", "/", 1)], SCHEMA), DAILY, lake_root=lake_root)
    assert reader.version() == before + 1
    assert reader.read().num_rows == 2


def test_served_tables_have_no_deletion_vectors(spark: SparkSession, lake_root: str) -> None:
    from deltalake import DeltaTable

    ensure_table(spark, DAILY, lake_root=lake_root)
    config = DeltaTable(DAILY.location(lake_root)).metadata().configuration
    assert config["delta.enableDeletionVectors"] == "false"


def test_schema_mismatch_names_the_table(spark: SparkSession, lake_root: str) -> None:
    ensure_table(spark, DAILY, lake_root=lake_root)
    other = TableSpec(
        name="page_views",
        layer=Layer.GOLD,
        product="demo",
        schema=T.StructType([*SCHEMA.fields[:2], T.StructField("views", T.StringType(), False)]),
        partition_by=("day",),
    )
    with pytest.raises(
        SchemaMismatchError, match=r"demo\.gold\.page_views: .*views \(is bigint, expected string\)"
    ):
        ensure_table(spark, other, lake_root=lake_root)


def test_missing_table_is_a_clear_error(spark: SparkSession, lake_root: str) -> None:
    with pytest.raises(TableNotFoundError, match="no Delta table"):
        read_table(spark, DAILY, lake_root=lake_root)
    with pytest.raises(TableNotFoundError):
        read_arrow(DAILY.location(lake_root))


def test_insert_new_ignores_keys_already_present(spark: SparkSession, lake_root: str) -> None:
    first = [("2026-01-01", "/", 3), ("2026-01-01", "/a", 1)]
    merge_insert_new(spark.createDataFrame(first, SCHEMA), DAILY, lake_root=lake_root, keys=["day", "page"])
    again = [("2026-01-01", "/", 99), ("2026-01-02", "/", 5)]
    merge_insert_new(
        spark.createDataFrame(again, SCHEMA),
        DAILY,
        lake_root=lake_root,
        keys=["day", "page"],
        target_predicate="t.day IN ('2026-01-01', '2026-01-02')",
    )
    assert rows_in_spark(spark, lake_root) == [
        ("2026-01-01", "/", 3),
        ("2026-01-01", "/a", 1),
        ("2026-01-02", "/", 5),
    ]


def test_update_columns_sets_only_changed_matching_rows(spark: SparkSession, lake_root: str) -> None:
    append(spark.createDataFrame([("d1", "/", 1), ("d1", "/a", 2)], SCHEMA), DAILY, lake_root=lake_root)
    before = table_history(spark, DAILY, lake_root=lake_root, limit=1)[0]["version"]
    merge_update_columns(
        spark.createDataFrame([("d1", "/", 10), ("d1", "/a", 2), ("d9", "/", 7)], SCHEMA),
        DAILY,
        lake_root=lake_root,
        keys=["day", "page"],
        columns=["views"],
    )
    assert rows_in_spark(spark, lake_root) == [("d1", "/", 10), ("d1", "/a", 2)]
    latest = table_history(spark, DAILY, lake_root=lake_root, limit=1)[0]
    assert latest["version"] == before + 1
    assert latest["operationMetrics"]["numTargetRowsUpdated"] == "1"


def test_replace_rows_swaps_a_scope_atomically(spark: SparkSession, lake_root: str) -> None:
    keyed = T.StructType([T.StructField("id", T.StringType(), False), *SCHEMA.fields])
    spec = TableSpec(name="keyed", layer=Layer.SILVER, product="demo", schema=keyed)
    append(
        spark.createDataFrame([("a", "d1", "/", 1), ("b", "d1", "/x", 2), ("c", "d2", "/", 3)], keyed),
        spec,
        lake_root=lake_root,
    )
    table = read_table(spark, spec, lake_root=lake_root)
    old_scope = table.where("day = 'd1'")
    new_rows = spark.createDataFrame([("a", "d1", "/", 5), ("n", "d1", "/new", 1)], keyed)
    replace_rows(new_rows, old_scope, spec, lake_root=lake_root, key="id")
    rows = sorted(tuple(r) for r in read_table(spark, spec, lake_root=lake_root).collect())
    assert rows == [("a", "d1", "/", 5), ("c", "d2", "/", 3), ("n", "d1", "/new", 1)]
    assert table_history(spark, spec, lake_root=lake_root, limit=1)[0]["operation"] == "MERGE"


def files_per_day(lake_root: str) -> dict[str, int]:
    """Live data files of each partition, as delta-rs sees the log (not Spark's metrics)."""
    from deltalake import DeltaTable

    counts: dict[str, int] = {}
    for uri in DeltaTable(DAILY.location(lake_root)).file_uris():
        day = uri.split("day=")[1].split("/")[0]
        counts[day] = counts.get(day, 0) + 1
    return counts


def test_compaction_packs_small_files_into_fewer_with_the_same_rows(
    spark: SparkSession, lake_root: str
) -> None:
    data = [(day, f"/p{i}", i) for day in ("2026-01-01", "2026-01-02") for i in range(6)]
    for day in ("2026-01-01", "2026-01-02"):
        for i in range(6):
            append(spark.createDataFrame([(day, f"/p{i}", i)], SCHEMA), DAILY, lake_root=lake_root)
    assert files_per_day(lake_root) == {"2026-01-01": 6, "2026-01-02": 6}

    only_first_day = compact(spark, DAILY, lake_root=lake_root, where="day = '2026-01-01'")
    assert (only_first_day.files_removed, only_first_day.files_added) == (6, 1)
    assert only_first_day.partitions_optimized == 1
    assert only_first_day.bytes_added > 0
    assert files_per_day(lake_root) == {"2026-01-01": 1, "2026-01-02": 6}

    rest = compact(spark, DAILY, lake_root=lake_root)
    assert (rest.files_removed, rest.files_added, rest.changed) == (6, 1, True)
    assert files_per_day(lake_root) == {"2026-01-01": 1, "2026-01-02": 1}
    assert rows_in_spark(spark, lake_root) == sorted(data)
    assert rows_in_delta_rs(lake_root) == sorted(data)
    assert table_history(spark, DAILY, lake_root=lake_root, limit=1)[0]["operation"] == "OPTIMIZE"

    again = compact(spark, DAILY, lake_root=lake_root)
    assert (again.files_removed, again.files_added, again.changed) == (0, 0, False)


def test_compaction_refuses_a_predicate_on_data_columns_and_a_missing_table(
    spark: SparkSession, lake_root: str
) -> None:
    with pytest.raises(TableNotFoundError, match="no Delta table"):
        compact(spark, DAILY, lake_root=lake_root)
    append(spark.createDataFrame([("2026-01-01", "/", 1)], SCHEMA), DAILY, lake_root=lake_root)
    with pytest.raises(
        TableError, match=r"demo\.gold\.page_views: cannot compact where 'views > 0': .*non-partition column"
    ):
        compact(spark, DAILY, lake_root=lake_root, where="views > 0")


@pytest.mark.parametrize(
    "conflict",
    [
        delta_errors.ConcurrentAppendException,
        delta_errors.ConcurrentDeleteReadException,
        delta_errors.ConcurrentDeleteDeleteException,
        delta_errors.DeltaConcurrentModificationException,
    ],
)
def test_every_delta_commit_conflict_is_retried(conflict: type[Exception]) -> None:
    """PySpark raises Delta's conflicts as sibling classes, not subclasses of
    ``DeltaConcurrentModificationException``; each must be retried, then given up on."""
    calls: list[int] = []

    def lose_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise conflict(message="lost the commit race")  # type: ignore[call-arg]
        return "committed"

    assert with_conflict_retry(lose_once, table="demo.gold.t", backoff_seconds=0) == "committed"
    assert len(calls) == 2

    def always_lose() -> None:
        raise conflict(message="lost the commit race")  # type: ignore[call-arg]

    with pytest.raises(TableError, match=r"demo\.gold\.t: gave up after 2 conflicting commits"):
        with_conflict_retry(always_lose, table="demo.gold.t", attempts=2, backoff_seconds=0)
