from datetime import date

import pytest
from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F

from lakehouse_core.aggregation import ALL, expand_dates, latest_non_null, on_days, ratio, with_all

pytestmark = pytest.mark.unit


def test_expand_dates_reaches_before_and_after_each_day() -> None:
    assert expand_dates({date(2024, 3, 1)}, before=1, after=2) == {
        date(2024, 2, 29),
        date(2024, 3, 1),
        date(2024, 3, 2),
        date(2024, 3, 3),
    }
    assert expand_dates([date(2024, 1, 1), date(2024, 1, 3)], after=1) == {
        date(2024, 1, 1),
        date(2024, 1, 2),
        date(2024, 1, 3),
        date(2024, 1, 4),
    }
    assert expand_dates([]) == set()


def test_expand_dates_refuses_negative_spans() -> None:
    with pytest.raises(ValueError, match="negative"):
        expand_dates({date(2024, 1, 1)}, before=-1)


def test_on_days_keeps_the_requested_days_or_everything(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(date(2024, 1, 1), 1), (date(2024, 1, 2), 2), (date(2024, 1, 3), 3)], "day date, n int"
    )

    assert sorted(r.n for r in on_days(df, "day", {date(2024, 1, 2), date(2024, 1, 9)}).collect()) == [2]
    assert sorted(r.n for r in on_days(df, "day", None).collect()) == [1, 2, 3]
    assert on_days(df, "day", set()).collect() == []


def test_with_all_yields_every_rollup_of_the_cube(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("ios", "1.0", "a"), ("ios", "2.0", "b"), ("android", "1.0", "a")], "p string, v string, d string"
    )

    cube = with_all(df, "p", "v").groupBy("p", "v").agg(F.count_distinct("d").alias("n"))

    assert sorted(tuple(r) for r in cube.collect()) == [
        ("all", "1.0", 1),
        ("all", "2.0", 1),
        ("all", "all", 2),
        ("android", "1.0", 1),
        ("android", "all", 1),
        ("ios", "1.0", 1),
        ("ios", "2.0", 1),
        ("ios", "all", 2),
    ]
    assert ALL == "all"


def test_ratio_is_zero_without_a_denominator(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1, 4), (3, 0), (2, None)], "n long, d long")

    assert [r[0] for r in df.select(ratio(F.col("n"), F.col("d"))).collect()] == [0.25, 0.0, 0.0]
    assert df.select(ratio(F.col("n"), F.col("d")).alias("r")).schema["r"].nullable is False


def test_latest_non_null_skips_missing_values_in_agg_and_window(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("a", 1, "x"), ("a", 2, "y"), ("a", 3, None), ("b", 1, None)], "k string, ts int, v string"
    )

    latest = df.groupBy("k").agg(latest_non_null(F.col("v"), "ts").alias("v"))
    assert sorted(tuple(r) for r in latest.collect()) == [("a", "y"), ("b", None)]

    over = df.select(
        "k", "ts", latest_non_null(F.col("v"), F.col("ts")).over(Window.partitionBy("k")).alias("v")
    )
    assert sorted(tuple(r) for r in over.collect()) == [
        ("a", 1, "y"),
        ("a", 2, "y"),
        ("a", 3, "y"),
        ("b", 1, None),
    ]
