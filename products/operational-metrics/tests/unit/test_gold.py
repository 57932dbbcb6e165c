"""Gold transforms on tiny hand-built frames, expected values worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.contracts import spark_schema
from operational_metrics.contracts import RunAttempt, TableFreshness
from operational_metrics.processing.compliance import sla_compliance
from operational_metrics.processing.gold import backfill_writes, freshness, run_stats
from operational_metrics.processing.incidents import asset_incidents, incidents, replay_start, sla_incidents

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


def failed(record_id: str, **kw: Any) -> dict[str, Any]:
    return {
        **attempt(record_id, status="failed", **kw),
        "error_class": "builtins.OSError",
        "error_message": "disk full",
    }


def test_an_asset_incident_opens_at_a_failed_final_attempt_and_closes_at_the_next_success(
    spark: SparkSession,
) -> None:
    frame = attempts(
        spark,
        attempt("ok-before", started=NOON - timedelta(hours=1)),
        failed("r1-a1", run_id="r1", final=False, started=NOON, seconds=10.0),
        failed("r1-a2", run_id="r1", attempt=2, started=NOON + timedelta(seconds=30), seconds=30.0),
        failed("r2", run_id="r2", started=NOON + timedelta(hours=1)),
        attempt("skip", run_id="r3", attempt=0, status="skipped", started=NOON + timedelta(hours=2)),
        attempt("r4", run_id="r4", started=NOON + timedelta(hours=3), seconds=20.0),
        failed("g1", asset="gold", run_id="r5", started=NOON + timedelta(hours=4)),
    )

    found = {r["asset"]: r.asDict() for r in asset_incidents(frame).collect()}

    silver, gold = found["silver"], found["gold"]
    opened = NOON + timedelta(seconds=60)
    assert (silver["started_at"], silver["opened_at"]) == (
        (NOON + timedelta(seconds=10)).replace(tzinfo=None),
        opened.replace(tzinfo=None),
    )
    assert silver["closed_at"] == (NOON + timedelta(hours=3, seconds=20)).replace(tzinfo=None)
    assert (silver["status"], silver["occurrences"], silver["run_id"]) == ("closed", 2, "r1")
    assert silver["time_to_detect_seconds"] == pytest.approx(50.0)
    assert silver["time_to_recover_seconds"] == pytest.approx(3 * 3600 - 40.0)
    assert silver["detail"] == "builtins.OSError: disk full"
    assert silver["incident_id"] == "asset_failing:web/silver:2026-03-02T12:01:00.000000Z"
    assert (silver["kind"], silver["table_name"], silver["opened_date"]) == ("asset_failing", None, DAY)
    assert (gold["status"], gold["closed_at"], gold["time_to_recover_seconds"]) == ("open", None, None)
    assert gold["time_to_detect_seconds"] == 0.0


def checks(spark: SparkSession, *rows: tuple[str, datetime, str]) -> DataFrame:
    """Freshness checks of ``(table, checked_at, state)`` with an SLA of 60/120 minutes; the
    newest data is as old as the state says (30, 90 or 150 minutes)."""
    ages = {"ok": 30, "warn": 90, "breach": 150, "missing": None}
    values = []
    for name, at, state in rows:
        age = ages[state]
        data_at = at - timedelta(minutes=age) if age is not None else None
        product, layer, _ = name.split(".")
        values.append(
            (
                at,
                at.date(),
                name,
                product,
                layer,
                1,
                data_at,
                data_at,
                "commit",
                age and age * 60.0,
                60,
                120,
                state,
            )
        )
    return spark.createDataFrame(values, spark_schema(TableFreshness))


def test_an_sla_incident_opens_at_a_breach_and_closes_only_when_the_table_is_ok_again(
    spark: SparkSession,
) -> None:
    hour = timedelta(hours=1)
    noon = NOON + timedelta(milliseconds=500)
    frame = checks(
        spark,
        ("p.gold.t", noon, "ok"),
        ("p.gold.t", noon + hour, "breach"),
        ("p.gold.t", noon + hour, "breach"),
        ("p.gold.t", noon + 2 * hour, "warn"),
        ("p.gold.t", noon + 3 * hour, "breach"),
        ("p.gold.t", noon + 4 * hour, "ok"),
        ("p.gold.t", noon + 5 * hour, "breach"),
        ("p.gold.u", noon, "missing"),
    )

    found = sorted((r.asDict() for r in sla_incidents(frame).collect()), key=lambda r: r["opened_at"])

    first, second = found
    assert first["started_at"] == (noon + hour - timedelta(minutes=30)).replace(tzinfo=None)
    assert first["opened_at"] == (noon + hour).replace(tzinfo=None)
    assert first["closed_at"] == (noon + 4 * hour).replace(tzinfo=None)
    assert (first["time_to_detect_seconds"], first["time_to_recover_seconds"]) == (1800.0, 3 * 3600.0)
    assert (first["occurrences"], first["table_name"], first["asset"]) == (2, "p.gold.t", None)
    assert first["detail"] == "data 9000 s old, SLA breach at 7200 s"
    assert (second["status"], second["opened_at"]) == ("open", (noon + 5 * hour).replace(tzinfo=None))


def test_replay_start_moves_back_over_incidents_open_at_midnight() -> None:
    midnight = datetime(2026, 3, 5, tzinfo=UTC)
    stored = [
        (datetime(2026, 3, 4, 23, tzinfo=UTC), datetime(2026, 3, 5, 1, tzinfo=UTC)),
        (datetime(2026, 3, 3, 22, tzinfo=UTC), datetime(2026, 3, 4, 2, tzinfo=UTC)),
        (datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC)),
    ]

    assert replay_start(date(2026, 3, 5), stored) == midnight - timedelta(days=2)
    assert replay_start(date(2026, 3, 7), stored) == midnight + timedelta(days=2)
    assert replay_start(date(2026, 3, 7), [(midnight, None)]) == midnight


def test_incidents_recomputed_from_the_replay_start_equal_a_recompute_of_all_history(
    spark: SparkSession,
) -> None:
    day = timedelta(days=1)
    frame = attempts(
        spark,
        failed("a", run_id="r1", started=NOON - 2 * day),
        attempt("b", run_id="r2", started=NOON - 2 * day + timedelta(hours=1)),
        failed("c", run_id="r3", started=NOON - day + timedelta(hours=11)),
        failed("d", run_id="r4", started=NOON + timedelta(hours=1)),
        attempt("e", run_id="r5", started=NOON + timedelta(hours=2)),
    )
    no_checks = checks(spark)
    everything = incidents(frame, no_checks).collect()
    stored = [(r["opened_at"].replace(tzinfo=UTC), r["closed_at"].replace(tzinfo=UTC)) for r in everything]

    start = replay_start(DAY, stored)
    again = incidents(frame, no_checks, since=start).collect()

    assert start == datetime(2026, 3, 1, tzinfo=UTC)
    expected = [r for r in everything if r["opened_at"] >= start.replace(tzinfo=None)]
    assert sorted(again) == sorted(expected)
    assert [(r["occurrences"], r["status"]) for r in again] == [(2, "closed")]


def test_sla_compliance_counts_each_days_and_months_checks_by_state(spark: SparkSession) -> None:
    hour = timedelta(hours=1)
    frame = checks(
        spark,
        ("p.gold.t", NOON, "ok"),
        ("p.gold.t", NOON + hour, "warn"),
        ("p.gold.t", NOON + 2 * hour, "breach"),
        ("p.gold.t", NOON + 3 * hour, "ok"),
        ("p.gold.t", NOON + timedelta(days=1), "breach"),
        ("p.gold.u", NOON, "missing"),
    )

    rows = {
        (r["period"], r["period_start"], r["table_name"]): r.asDict() for r in sla_compliance(frame).collect()
    }

    day = rows[("day", DAY, "p.gold.t")]
    assert (day["checks"], day["ok_checks"], day["warn_checks"], day["breach_checks"]) == (4, 2, 1, 1)
    assert (day["ok_share"], day["breach_share"], day["compliance"]) == (0.5, 0.25, 0.75)
    assert rows[("day", DAY + timedelta(days=1), "p.gold.t")]["compliance"] == 0.0
    month = rows[("month", date(2026, 3, 1), "p.gold.t")]
    assert (month["checks"], month["breach_checks"], month["compliance"], month["month"]) == (
        5,
        2,
        0.6,
        date(2026, 3, 1),
    )
    missing = rows[("month", date(2026, 3, 1), "p.gold.u")]
    assert (missing["missing_checks"], missing["compliance"], missing["breach_minutes"]) == (1, None, 120)
