import hashlib
from datetime import datetime, timedelta

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse_events.sessions import assign_sessions

pytestmark = pytest.mark.unit

COLUMNS = "visitor string, ts timestamp, seq int, restart boolean"


def sessions_of(
    spark: SparkSession, rows: list[tuple[object, ...]], **options: object
) -> dict[int, str | None]:
    events = spark.createDataFrame(rows, COLUMNS)
    result = assign_sessions(
        events,
        visitor_col="visitor",
        ts_col="ts",
        inactivity=timedelta(minutes=30),
        **options,  # type: ignore[arg-type]
    )
    return {r.seq: r.session_id for r in result.collect()}


def expected_id(visitor: str, started_at: datetime) -> str:
    micros = int((started_at - datetime(1970, 1, 1)).total_seconds()) * 1_000_000 + started_at.microsecond
    return hashlib.sha256(f"{visitor}|{micros}".encode()).hexdigest()


def test_gap_over_inactivity_splits_and_under_keeps(spark: SparkSession) -> None:
    t0 = datetime(2024, 3, 10, 9, 0)
    rows = [
        ("v1", t0, 1, None),
        ("v1", t0 + timedelta(minutes=29), 2, None),
        ("v1", t0 + timedelta(minutes=60), 3, None),
        ("v1", t0 + timedelta(minutes=90), 4, None),
        ("v1", t0 + timedelta(minutes=120, seconds=1), 5, None),
        ("v2", t0 + timedelta(minutes=29), 6, None),
    ]

    got = sessions_of(spark, rows)

    assert got == {
        1: expected_id("v1", t0),
        2: expected_id("v1", t0),
        3: expected_id("v1", t0 + timedelta(minutes=60)),
        4: expected_id("v1", t0 + timedelta(minutes=60)),
        5: expected_id("v1", t0 + timedelta(minutes=120, seconds=1)),
        6: expected_id("v2", t0 + timedelta(minutes=29)),
    }


def test_session_crosses_midnight(spark: SparkSession) -> None:
    rows = [
        ("v1", datetime(2024, 3, 10, 23, 50), 1, None),
        ("v1", datetime(2024, 3, 11, 0, 10), 2, None),
    ]

    got = sessions_of(spark, rows)

    started = datetime(2024, 3, 10, 23, 50)
    assert got == {1: expected_id("v1", started), 2: expected_id("v1", started)}


def test_starts_new_session_column_cuts_the_visit(spark: SparkSession) -> None:
    t0 = datetime(2024, 3, 10, 9, 0)
    rows = [
        ("v1", t0, 1, None),
        ("v1", t0 + timedelta(minutes=5), 2, True),
        ("v1", t0 + timedelta(minutes=6), 3, False),
    ]

    got = sessions_of(spark, rows, starts_new_session=F.col("restart"))

    assert got == {
        1: expected_id("v1", t0),
        2: expected_id("v1", t0 + timedelta(minutes=5)),
        3: expected_id("v1", t0 + timedelta(minutes=5)),
    }


def test_ids_are_stable_when_sessionised_again_in_another_order(spark: SparkSession) -> None:
    t0 = datetime(2024, 3, 10, 9, 0)
    rows = [("v1", t0 + timedelta(minutes=m), i, None) for i, m in enumerate([0, 10, 50, 55])]

    first = sessions_of(spark, rows)
    second = sessions_of(spark, list(reversed(rows)))

    assert first == second
    assert len(set(first.values())) == 2


def test_null_visitor_or_time_gets_no_session_and_custom_column_name(spark: SparkSession) -> None:
    rows = [(None, datetime(2024, 3, 10, 9, 0), 1, None), ("v1", None, 2, None)]
    events = spark.createDataFrame(rows, COLUMNS)

    result = assign_sessions(
        events, visitor_col="visitor", ts_col="ts", inactivity=timedelta(minutes=30), session_col="visit"
    )

    assert result.columns == ["visitor", "ts", "seq", "restart", "visit"]
    assert [r.visit for r in result.orderBy("seq").collect()] == [None, None]
