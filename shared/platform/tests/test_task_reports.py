"""What a task wrote, read back from the Delta commits it made on a real (tiny) table."""

from __future__ import annotations

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse_core.delta import append, ensure_table, merge_upsert
from lakehouse_core.tables import Layer, TableSpec
from lakehouse_platform.task_reports import quarantined_by_rule, versions_before, written_since

pytestmark = pytest.mark.integration

ROWS = TableSpec(
    name="rows",
    layer=Layer.SILVER,
    product="toy",
    schema=T.StructType([T.StructField("id", T.LongType()), T.StructField("value", T.StringType())]),
)
REJECTED = TableSpec(
    name="rejected",
    layer=Layer.QUARANTINE,
    product="toy",
    schema=T.StructType(
        [T.StructField("id", T.LongType()), T.StructField("failed_rules", T.ArrayType(T.StringType()))]
    ),
)
UNTOUCHED = TableSpec(name="untouched", layer=Layer.GOLD, product="toy", schema=ROWS.schema)


def test_the_commits_after_the_noted_versions_give_rows_written_versions_and_rules(
    spark: SparkSession, lake_root: str
) -> None:
    ensure_table(spark, ROWS, lake_root=lake_root)
    append(spark.createDataFrame([(1, "a")], ROWS.schema), ROWS, lake_root=lake_root)
    ensure_table(spark, UNTOUCHED, lake_root=lake_root)
    specs = (ROWS, REJECTED, UNTOUCHED)
    before = versions_before(spark, specs, lake_root=lake_root)
    assert before == {"toy.silver.rows": 1, "toy.quarantine.rejected": None, "toy.gold.untouched": 0}

    append(spark.createDataFrame([(2, "b"), (3, "c")], ROWS.schema), ROWS, lake_root=lake_root)
    merge_upsert(
        spark.createDataFrame([(3, "C"), (4, "d")], ROWS.schema), ROWS, lake_root=lake_root, keys=("id",)
    )
    rejected = [(7, ["valid_json"]), (8, ["valid_json", "unique_message_id"])]
    append(spark.createDataFrame(rejected, REJECTED.schema), REJECTED, lake_root=lake_root)
    written = written_since(spark, specs, before, lake_root=lake_root)

    assert written.rows_written == {"toy.silver.rows": 2 + 2, "toy.quarantine.rejected": 2}
    assert written.delta_versions == {"toy.silver.rows": 3, "toy.quarantine.rejected": 1}
    assert quarantined_by_rule(
        spark, REJECTED, before["toy.quarantine.rejected"], 1, lake_root=lake_root
    ) == {"valid_json": 2, "unique_message_id": 1}
    assert quarantined_by_rule(spark, REJECTED, 1, 1, lake_root=lake_root) == {}, "nothing after version 1"
