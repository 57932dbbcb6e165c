"""A table created before its contract gained a nullable column (an additive change) gets the
column when it is next ensured; the rows written before read it as NULL, in Spark and delta-rs."""

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lakehouse_core.delta import append, ensure_table, read_table
from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.errors import SchemaMismatchError
from lakehouse_core.tables import Layer, TableSpec

pytestmark = pytest.mark.integration

BEFORE = T.StructType([T.StructField("event_id", T.StringType(), False)])


def spec(schema: T.StructType) -> TableSpec:
    return TableSpec(name="events", layer=Layer.SILVER, product="demo", schema=schema)


def test_a_new_nullable_column_is_added_to_the_stored_table(spark: SparkSession, lake_root: str) -> None:
    append(spark.createDataFrame([("e1",)], BEFORE), spec(BEFORE), lake_root=lake_root)
    after = spec(T.StructType([*BEFORE.fields, T.StructField("subject_key", T.StringType(), True)]))

    ensure_table(spark, after, lake_root=lake_root)
    append(spark.createDataFrame([("e2", "k2")], after.schema), after, lake_root=lake_root)

    assert sorted(tuple(r) for r in read_table(spark, after, lake_root=lake_root).collect()) == [
        ("e1", None),
        ("e2", "k2"),
    ]
    assert sorted(read_arrow(after.location(lake_root)).to_pylist(), key=lambda r: r["event_id"]) == [
        {"event_id": "e1", "subject_key": None},
        {"event_id": "e2", "subject_key": "k2"},
    ]


def test_a_new_required_column_is_still_a_mismatch(spark: SparkSession, lake_root: str) -> None:
    ensure_table(spark, spec(BEFORE), lake_root=lake_root)
    after = spec(T.StructType([*BEFORE.fields, T.StructField("subject_key", T.StringType(), False)]))

    with pytest.raises(SchemaMismatchError, match=r"subject_key \(missing, expected string\)"):
        ensure_table(spark, after, lake_root=lake_root)
