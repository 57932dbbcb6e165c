"""Gold transforms on tiny hand-built frames, expected values worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.contracts import spark_schema
from operational_metrics.contracts import RunAttempt
from operational_metrics.processing.gold import backfill_writes, freshness, run_stats

pytestmark = pytest.mark.unit

DAY = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)


def attempt(
    record_id: str,
    *,
    asset: str = "silver",
    product: str = "web",
    run_id: str = "run-1",
    attempt: int = 1,
    final: bool = True,
    status: str = "succeeded",
    seconds: float = 10.0,
    rows_read: int = 0,
    quarantined: int = 0,
    started: datetime = NOON,
    partition_end: date | None = None,
    versions: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "product": product,
        "asset": asset,
        "run_id": run_id,
        "partition": None,
        "partition_end": partition_end,
        "attempt": attempt,
        "final_attempt": final,
        "status": status,
        "started_at": started,
        "finished_at": started + timedelta(seconds=seconds),
        "run_date": started.date(),
        "duration_seconds": seconds,
        "rows_read": rows_read,
        "rows_written": rows_read - quarantined,
        "rows_quarantined": quarantined,
        "rows_read_by_table": {},
        "rows_written_by_table": {},
        "delta_versions": versions or {},
        "rows_quarantined_by_rule": {},
        "cpu_seconds": 0.0,
        "peak_memory_bytes": 0,
        "error_class": None,
        "error_message": None,
        "source_partition": 0,
        "source_offset": 0,
    }


def attempts(spark: SparkSession, *rows: dict[str, Any]) -> DataFrame:
    return spark.createDataFrame([tuple(r.values()) for r in rows], spark_schema(RunAttempt))


def test_run_stats_count_a_failure_and_its_retry_once_as_a_success(spark: SparkSession) -> None:
    frame = attempts(
        spark,
        attempt("a", final=False, status="failed", seconds=2.0),
        attempt("b", attempt=2, seconds=4.0, rows_read=100, quarantined=5),
        attempt("c", run_id="run-2", seconds=6.0, rows_read=100, quarantined=15),
        attempt("d", run_id="run-3", status="failed", seconds=8.0),
        attempt("e", run_id="run-4", attempt=0, status="skipped", seconds=0.0),
        attempt("f", asset="gold", seconds=1.0),
    )

    stats = {r["asset"]: r.asDict() for r in run_stats(frame).collect()}

    silver = stats["silver"]
    assert (silver["date"], silver["product"]) == (DAY, "web")
    assert (silver["runs"], silver["successes"], silver["failures"]) == (3, 2, 1)
    assert (silver["attempts"], silver["failed_attempts"], silver["retries"], silver["skipped"]) == (
        4,
        2,
        1,
        1,
    )
    assert silver["duration_p50_seconds"] == pytest.approx(5.0)
    assert silver["duration_p95_seconds"] == pytest.approx(6.0 + 0.85 * 2.0)
    assert silver["duration_max_seconds"] == pytest.approx(8.0)
    assert (silver["rows_read"], silver["rows_written"], silver["rows_quarantined"]) == (200, 180, 20)
    assert silver["quarantine_rate"] == pytest.approx(0.1)
    assert (stats["gold"]["runs"], stats["gold"]["quarantine_rate"]) == (1, None)


def test_run_stats_are_per_day_of_each_attempts_start(spark: SparkSession) -> None:
    frame = attempts(spark, attempt("a"), attempt("b", started=NOON + timedelta(days=1)))

    assert sorted(r["date"] for r in run_stats(frame).collect()) == [DAY, DAY + timedelta(days=1)]


def tables(spark: SparkSession, *rows: tuple[str, int, int]) -> DataFrame:
    return spark.createDataFrame(
        [(name, name.split(".")[0], name.split(".")[1], warn, breach) for name, warn, breach in rows],
        "table_name string, product string, layer string, warn_minutes int, breach_minutes int",
    )


def commits(spark: SparkSession, *rows: tuple[str, int, datetime]) -> DataFrame:
    return spark.createDataFrame(list(rows), "table_name string, version long, committed_at timestamp")


def test_freshness_states_against_each_tables_sla(spark: SparkSession) -> None:
    now = NOON
    listed = tables(
        spark,
        ("p.gold.fresh", 60, 120),
        ("p.gold.late", 60, 120),
        ("p.gold.old", 60, 120),
        ("p.gold.none", 60, 120),
    )
    history = commits(
        spark,
        ("p.gold.fresh", 0, now - timedelta(hours=3)),
        ("p.gold.fresh", 1, now - timedelta(minutes=59)),
        ("p.gold.late", 0, now - timedelta(minutes=60)),
        ("p.gold.old", 0, now - timedelta(minutes=120)),
    )
    no_backfills = backfill_writes(attempts(spark, attempt("a")))

    rows = {r["table_name"]: r for r in freshness(listed, history, no_backfills, checked_at=now).collect()}

    assert {name: r["state"] for name, r in rows.items()} == {
        "p.gold.fresh": "ok",
        "p.gold.late": "warn",
        "p.gold.old": "breach",
        "p.gold.none": "missing",
    }
    assert rows["p.gold.fresh"]["age_seconds"] == pytest.approx(59 * 60)
    assert rows["p.gold.fresh"]["newest_version"] == 1
    assert rows["p.gold.none"]["age_seconds"] is None
    assert rows["p.gold.none"]["data_time_source"] == "none"


def test_a_backfill_of_old_days_does_not_make_a_table_fresh(spark: SparkSession) -> None:
    now = NOON
    listed = tables(spark, ("p.gold.t", 60, 120))
    history = commits(
        spark, ("p.gold.t", 3, now - timedelta(hours=5)), ("p.gold.t", 4, now - timedelta(minutes=5))
    )
    writes = backfill_writes(
        attempts(spark, attempt("a", partition_end=date(2026, 3, 1), versions={"p.gold.t": 4}))
    )

    [row] = freshness(listed, history, writes, checked_at=now).collect()

    assert row["newest_commit_at"] == (now - timedelta(minutes=5)).replace(tzinfo=None)
    assert row["newest_data_at"] == (now - timedelta(hours=5)).replace(tzinfo=None)
    assert (row["data_time_source"], row["state"]) == ("commit", "breach")


def test_a_backfill_of_today_counts_as_fresh_up_to_the_end_of_its_days(spark: SparkSession) -> None:
    now = NOON
    listed = tables(spark, ("p.gold.t", 60, 120))
    history = commits(spark, ("p.gold.t", 0, now - timedelta(minutes=1)))
    only_backfill_of_yesterday = backfill_writes(
        attempts(spark, attempt("a", partition_end=date(2026, 3, 1), versions={"p.gold.t": 0}))
    )

    [row] = freshness(listed, history, only_backfill_of_yesterday, checked_at=now).collect()

    assert row["newest_data_at"] == datetime(2026, 3, 2)
    assert (row["data_time_source"], row["age_seconds"], row["state"]) == ("partition", 12 * 3600.0, "breach")
