"""The gold job on real Delta tables.

A late session moves a visitor to an earlier cohort. Silver (W1 = Monday 2024-03-04, W2 = the Monday after):

- ``b`` visits on Wednesday of W1 (sb1) and on Tuesday of W2 (sb2): cohort W1, back in W2.
- ``a`` first visits on Monday of W2 (sa2): cohort W2.

Then a late session of ``a`` on Sunday of W1 (sa1) arrives: ``a`` now belongs to cohort W1, and
cohort W2 must lose them (it is left empty), not keep them as well.
"""

from __future__ import annotations

import io
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from delta.tables import DeltaTable
from deltalake import DeltaTable as DeltaLog
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from rich.console import Console

from lakehouse_core.delta import append, read_table
from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import TableSpec, checkpoint_location
from lakehouse_events.backfill import run_backfill
from lakehouse_events.product import run_gold
from lakehouse_platform.backfill import day_range
from web_user_analytics.config import load_web_config
from web_user_analytics.pipeline import WEB
from web_user_analytics.processing.gold import daily_traffic, user_dimension, visitor_days
from web_user_analytics.storage.tables import (
    GOLD_ACQUISITION,
    GOLD_DAILY_TRAFFIC,
    GOLD_FUNNEL_STEPS,
    GOLD_PAGE_STATS,
    GOLD_RETENTION,
    GOLD_USERS,
    GOLD_VISITOR_DAYS,
    SILVER_EVENTS,
    SILVER_SESSIONS,
)

pytestmark = pytest.mark.integration

W1, W2 = date(2024, 3, 4), date(2024, 3, 11)


def ts(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def with_defaults(spec: TableSpec, values: dict[str, Any]) -> tuple[Any, ...]:
    """A row of the table: ``values``, and None for every other column."""
    return tuple(values.get(name) for name in spec.schema.fieldNames())


def visit(spark: SparkSession, lake_root: str, *visits: tuple[str, str, datetime]) -> None:
    """Per ``(session_id, visitor, at)``, one page view at ``at`` and its one-view session,
    appended to silver in one commit per table."""
    rows = [silver_rows(*v) for v in visits]
    for spec, table_rows in ((SILVER_EVENTS, [e for e, _ in rows]), (SILVER_SESSIONS, [s for _, s in rows])):
        append(spark.createDataFrame(table_rows, spec.schema), spec, lake_root=lake_root)


def silver_rows(session_id: str, visitor: str, at: datetime) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """A page view's silver event row and its one-view session row."""
    event = with_defaults(
        SILVER_EVENTS,
        {
            "event_id": f"e-{session_id}",
            "event_type": "page",
            "visitor_id": visitor,
            "event_ts": at,
            "received_at": at,
            "event_date": at.date(),
            "session_id": session_id,
            "page_path": "/",
            "referrer_class": "direct",
            "device_type": "desktop",
            "is_bot": False,
            "imported": False,
            "source_partition": 0,
            "source_offset": 0,
        },
    )
    session = with_defaults(
        SILVER_SESSIONS,
        {
            "session_id": session_id,
            "visitor_id": visitor,
            "session_date": at.date(),
            "started_at": at,
            "ended_at": at,
            "duration_seconds": 0.0,
            "events": 1,
            "page_views": 1,
            "landing_path": "/",
            "exit_path": "/",
            "is_bounce": True,
            "source": "(direct)",
            "medium": "(none)",
            "campaign": "(not set)",
            "device_type": "desktop",
        },
    )
    return event, session


def gold(spec: TableSpec, lake_root: str, *columns: str) -> list[tuple[Any, ...]]:
    table = read_arrow(spec.location(lake_root), columns=list(columns)).to_pylist()
    return sorted(tuple(row[c] for c in columns) for row in table)


def test_late_first_visit_moves_the_visitor_out_of_their_old_cohort(
    spark: SparkSession, lake_root: str
) -> None:
    config = load_web_config()
    cohort = ("cohort_week", "week_offset", "cohort_size", "retained_visitors")
    visit(
        spark,
        lake_root,
        ("sb1", "b", ts(W1 + timedelta(days=2), 10)),
        ("sb2", "b", ts(W2 + timedelta(days=1), 10)),
        ("sa2", "a", ts(W2, 10)),
    )

    assert run_gold(WEB, spark, config, lake_root=lake_root).batches == 1
    assert gold(GOLD_RETENTION, lake_root, *cohort) == [(W1, 0, 1, 1), (W1, 1, 1, 1), (W2, 0, 1, 1)]

    visit(spark, lake_root, ("sa1", "a", ts(W1 + timedelta(days=6), 22)))

    assert run_gold(WEB, spark, config, lake_root=lake_root).batches == 1
    assert gold(GOLD_RETENTION, lake_root, *cohort) == [(W1, 0, 2, 2), (W1, 1, 2, 2)]
    first_seen = {
        visitor: seen.astimezone(UTC)
        for visitor, seen in gold(GOLD_USERS, lake_root, "visitor_id", "first_seen")
    }
    assert first_seen == {"a": ts(W1 + timedelta(days=6), 22), "b": ts(W1 + timedelta(days=2), 10)}


def collected(df: DataFrame) -> list[tuple[Any, ...]]:
    return sorted(
        tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row) for row in df.collect()
    )


def test_a_batch_reads_only_its_days_of_silver_and_sums_the_user_dimension_from_visitor_days(
    spark: SparkSession, lake_root: str, tmp_path: Path
) -> None:
    """x visits on D0 and D10, y on D10 and D20. Then x visits on D20 and y's D20 visit leaves
    silver (as a later quarantine or re-sessionisation would take it): the batch touches D20
    only. The silver event days outside its context (D0 and D10) are moved away while it runs,
    so reading any of their files fails the job. Afterwards visitor_days and the user dimension
    equal a computation over the whole of silver: y's D20 row is gone, x counts three visits."""
    config = load_web_config()
    d0, d10, d20 = date(2024, 3, 4), date(2024, 3, 14), date(2024, 3, 24)
    visit(
        spark,
        lake_root,
        ("sx0", "x", ts(d0, 10)),
        ("sx1", "x", ts(d10, 10)),
        ("sy1", "y", ts(d10, 11)),
        ("sy2", "y", ts(d20, 11)),
    )
    assert run_gold(WEB, spark, config, lake_root=lake_root).batches == 1

    visit(spark, lake_root, ("sx2", "x", ts(d20, 9)))
    for spec, key in ((SILVER_EVENTS, "event_id = 'e-sy2'"), (SILVER_SESSIONS, "session_id = 'sy2'")):
        DeltaTable.forPath(spark, spec.location(lake_root)).delete(key)
    events_table = Path(SILVER_EVENTS.location(lake_root))
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    outside = [f"event_date={day}" for day in (d0, d10)]
    for partition in outside:
        shutil.move(events_table / partition, hidden / partition)
    try:
        assert run_gold(WEB, spark, config, lake_root=lake_root).batches == 1
    finally:
        for partition in outside:
            shutil.move(hidden / partition, events_table / partition)

    events = read_table(spark, SILVER_EVENTS, lake_root=lake_root)
    sessions = read_table(spark, SILVER_SESSIONS, lake_root=lake_root)
    stored_days = read_table(spark, GOLD_VISITOR_DAYS, lake_root=lake_root)
    assert collected(stored_days) == collected(visitor_days(events, sessions))
    assert sorted((r.visitor_id, r.date) for r in stored_days.collect()) == [
        ("x", d0),
        ("x", d10),
        ("x", d20),
        ("y", d10),
    ]
    users = read_table(spark, GOLD_USERS, lake_root=lake_root)
    assert collected(users) == collected(user_dimension(events, sessions))
    assert [
        (r.visitor_id, r.sessions, r.last_seen.astimezone(UTC)) for r in users.orderBy("visitor_id").collect()
    ] == [
        ("x", 3, ts(d20, 9)),
        ("y", 1, ts(d10, 11)),
    ]


def files_of_day(spec: TableSpec, lake_root: str, day: date) -> set[str]:
    return set(DeltaLog(spec.location(lake_root)).file_uris(file_pruning_predicate=[("date", "=", str(day))]))


def checkpoint_files(lake_root: str) -> dict[str, int]:
    root = Path(checkpoint_location(lake_root, WEB.name, "gold"))
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def test_a_backfill_restores_a_lost_day_from_silver_and_leaves_the_change_feed_to_the_next_run(
    spark: SparkSession, lake_root: str
) -> None:
    """Gold of d3 is deleted from two tables; a backfill of d3 alone brings it back equal to a
    computation over all of silver, rewrites no file of d0 or d6 (beyond the one day either side
    the step recomputes), and leaves the gold job's checkpoint alone: a session that reached
    silver before the backfill is still the next incremental run's one change."""
    config = load_web_config()
    d0, d3, d6, d10 = (date(2024, 3, 4) + timedelta(days=n) for n in (0, 3, 6, 10))
    visit(
        spark,
        lake_root,
        ("sa0", "a", ts(d0, 10)),
        ("sa3", "a", ts(d3, 10)),
        ("sc3", "c", ts(d3, 12)),
        ("sb6", "b", ts(d6, 9)),
    )
    assert run_gold(WEB, spark, config, lake_root=lake_root).batches == 1

    daily = (GOLD_DAILY_TRAFFIC, GOLD_PAGE_STATS, GOLD_ACQUISITION, GOLD_FUNNEL_STEPS, GOLD_VISITOR_DAYS)

    def rows_of(spec: TableSpec, day: date) -> list[tuple[Any, ...]]:
        return [r for r in gold(spec, lake_root, *spec.schema.fieldNames()) if day in r]

    before = {spec.name: rows_of(spec, d3) for spec in daily}
    assert before[GOLD_DAILY_TRAFFIC.name]
    for spec in (GOLD_DAILY_TRAFFIC, GOLD_PAGE_STATS):
        DeltaTable.forPath(spark, spec.location(lake_root)).delete(F.col("date") == F.lit(d3))
    assert rows_of(GOLD_DAILY_TRAFFIC, d3) == []
    untouched = {(spec.name, day): files_of_day(spec, lake_root, day) for spec in daily for day in (d0, d6)}
    visit(spark, lake_root, ("sd10", "d", ts(d10, 8)))
    checkpoint = checkpoint_files(lake_root)

    shown = Console(file=io.StringIO(), width=120)
    run = run_backfill(
        WEB,
        config,
        LakehouseSettings(lake_root=lake_root),
        spark=lambda: spark,
        days=day_range("2024-03-07", "2024-03-07"),
        console=shown,
        recorders=[],
    )

    assert run.status == "succeeded", run.task("backfill").error
    outputs = run.task("backfill").outputs
    assert (outputs["partition"], outputs["sessions_read"], outputs["days_without_sessions"]) == (
        "2024-03-07..2024-03-07",
        2,
        [],
    )
    assert "1/1" in shown.file.getvalue()  # type: ignore[attr-defined]
    assert {spec.name: rows_of(spec, d3) for spec in daily} == before
    sessions = read_table(spark, SILVER_SESSIONS, lake_root=lake_root)
    traffic = daily_traffic(sessions, {d3}).select(*GOLD_DAILY_TRAFFIC.schema.fieldNames())
    assert collected(traffic) == before[GOLD_DAILY_TRAFFIC.name]
    assert {
        key: files_of_day(spec, lake_root, key[1])
        for spec in daily
        for key in [(spec.name, d0), (spec.name, d6)]
    } == untouched
    assert checkpoint_files(lake_root) == checkpoint

    assert run_gold(WEB, spark, config, lake_root=lake_root).batches == 1
    assert (d10, "all", "all", 1) in gold(
        GOLD_DAILY_TRAFFIC, lake_root, "date", "device_type", "country", "sessions"
    )
    assert ("d",) in gold(GOLD_USERS, lake_root, "visitor_id")
    assert {spec.name: rows_of(spec, d3) for spec in daily} == before
