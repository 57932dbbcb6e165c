"""The gold job on real Delta tables: a first run over a small silver, then one changed session;
a late install that moves a device's cohort; a batch that reads only its days of silver.

Silver (D1 = 2024-05-01):

- ``a`` (ios) installs on D1 (session sa1, app 1.0, 60 s, screen Home), returns on D2 (sa2,
  30 s, Home → Feed) and on D8 with app 1.1 (sa8, 40 s).
- ``b`` (android) installs on D1 (sb1, app 2.0, 120 s, screen Home) and crashes on D2 (sb2,
  10 s).

Then silver corrects sb2 to not crashed: the second run must rewrite the D2 partitions of the
session tables and leave D1 and D8 alone.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.delta import append, read_table
from lakehouse_core.delta_reader import open_table, read_arrow
from lakehouse_core.tables import TableSpec
from lakehouse_events.product import run_gold
from mobile_user_analytics.config import load_mobile_config
from mobile_user_analytics.pipeline import MOBILE
from mobile_user_analytics.processing.gold import device_days, device_dimension
from mobile_user_analytics.storage.tables import (
    GOLD_ACTIVE_USERS,
    GOLD_CRASH_FREE,
    GOLD_DEVICE_DAYS,
    GOLD_DEVICES,
    GOLD_INSTALL_COHORTS,
    GOLD_SCREEN_TRANSITIONS,
    GOLD_SESSION_STATS,
    GOLD_VERSION_ADOPTION,
    SILVER_EVENTS,
    SILVER_SCREEN_VIEWS,
    SILVER_SESSIONS,
)

pytestmark = pytest.mark.integration

D1, D2, D8, D9 = date(2024, 5, 1), date(2024, 5, 2), date(2024, 5, 8), date(2024, 5, 9)
PLATFORMS = {"a": "ios", "b": "android"}


def ts(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def with_defaults(spec: TableSpec, values: dict[str, Any]) -> tuple[Any, ...]:
    """A row of the table: ``values``, and None for every other column."""
    return tuple(values.get(name) for name in spec.schema.fieldNames())


def silver_event(
    event_id: str, device: str, session_id: str, at: datetime, version: str, lifecycle: str | None = None
) -> tuple[Any, ...]:
    return with_defaults(
        SILVER_EVENTS,
        {
            "event_id": event_id,
            "event_type": "track",
            "device_key": device,
            "event_ts": at,
            "received_at": at,
            "event_date": at.date(),
            "session_id": session_id,
            "lifecycle": lifecycle,
            "app_version": version,
            "platform": PLATFORMS[device],
            "os_version": "17.4" if device == "a" else "14",
            "imported": False,
            "source_partition": 0,
            "source_offset": 0,
        },
    )


def silver_session(
    session_id: str, device: str, at: datetime, seconds: float, version: str, *, crashed: bool = False
) -> tuple[Any, ...]:
    return with_defaults(
        SILVER_SESSIONS,
        {
            "session_id": session_id,
            "device_key": device,
            "session_date": at.date(),
            "started_at": at,
            "ended_at": at + timedelta(seconds=seconds),
            "duration_seconds": seconds,
            "events": 2,
            "screen_views": 1,
            "app_version": version,
            "platform": PLATFORMS[device],
            "crashed": crashed,
        },
    )


def silver_view(
    event_id: str, session_id: str, device: str, at: datetime, screen: str, previous: str | None
) -> tuple[Any, ...]:
    return with_defaults(
        SILVER_SCREEN_VIEWS,
        {
            "event_id": event_id,
            "session_id": session_id,
            "device_key": device,
            "event_date": at.date(),
            "viewed_at": at,
            "screen_name": screen,
            "previous_screen": previous,
            "platform": PLATFORMS[device],
        },
    )


def write_silver(spark: SparkSession, lake_root: str) -> None:
    events = [
        silver_event("e1", "a", "sa1", ts(D1, 10), "1.0", "installed"),
        silver_event("e2", "a", "sa1", ts(D1, 10, 1), "1.0"),
        silver_event("e3", "b", "sb1", ts(D1, 11), "2.0", "installed"),
        silver_event("e4", "a", "sa2", ts(D2, 9), "1.0"),
        silver_event("e5", "b", "sb2", ts(D2, 12), "2.0", "crashed"),
        silver_event("e6", "a", "sa8", ts(D8, 8), "1.1"),
    ]
    sessions = [
        silver_session("sa1", "a", ts(D1, 10), 60.0, "1.0"),
        silver_session("sb1", "b", ts(D1, 11), 120.0, "2.0"),
        silver_session("sa2", "a", ts(D2, 9), 30.0, "1.0"),
        silver_session("sb2", "b", ts(D2, 12), 10.0, "2.0", crashed=True),
        silver_session("sa8", "a", ts(D8, 8), 40.0, "1.1"),
    ]
    views = [
        silver_view("v1", "sa1", "a", ts(D1, 10, 1), "Home", None),
        silver_view("v2", "sb1", "b", ts(D1, 11), "Home", None),
        silver_view("v3", "sa2", "a", ts(D2, 9), "Home", None),
        silver_view("v4", "sa2", "a", ts(D2, 9, 1), "Feed", "Home"),
    ]
    for spec, rows in ((SILVER_EVENTS, events), (SILVER_SESSIONS, sessions), (SILVER_SCREEN_VIEWS, views)):
        append(spark.createDataFrame(rows, spec.schema), spec, lake_root=lake_root)


def gold(spec: TableSpec, lake_root: str, *columns: str) -> list[tuple[Any, ...]]:
    table = read_arrow(spec.location(lake_root), columns=list(columns)).to_pylist()
    return sorted((tuple(row[c] for c in columns) for row in table), key=repr)


def partition_files(spec: TableSpec, lake_root: str, day: date) -> set[str]:
    column = spec.partition_by[0]
    return set(open_table(spec.location(lake_root)).file_uris(file_pruning_predicate=[(column, "=", day)]))


def unchanged_partitions(lake_root: str) -> dict[tuple[str, date], set[str]]:
    """The files of the partitions a change of D2's sessions must not rewrite: the session
    tables' D1 and D8, and active users' D1 (D2's activity counts in the windows of D2-D8)."""
    days = ((GOLD_CRASH_FREE, (D1, D8)), (GOLD_SESSION_STATS, (D1, D8)), (GOLD_ACTIVE_USERS, (D1,)))
    return {(spec.name, day): partition_files(spec, lake_root, day) for spec, ds in days for day in ds}


def test_gold_job_computes_gold_then_rewrites_only_affected_partitions(
    spark: SparkSession, lake_root: str
) -> None:
    config = load_mobile_config()
    write_silver(spark, lake_root)

    first = run_gold(MOBILE, spark, config, lake_root=lake_root)

    assert first.batches == 1
    crashes = ("date", "platform", "app_version", "sessions", "crashed_sessions", "crash_free_sessions")
    assert gold(GOLD_CRASH_FREE, lake_root, *crashes) == [
        (D1, "android", "2.0", 1, 0, 1.0),
        (D1, "ios", "1.0", 1, 0, 1.0),
        (D2, "android", "2.0", 1, 1, 0.0),
        (D2, "ios", "1.0", 1, 0, 1.0),
        (D8, "ios", "1.1", 1, 0, 1.0),
    ]
    active = gold(GOLD_ACTIVE_USERS, lake_root, "date", "platform", "dau", "wau", "mau", "stickiness")
    assert {r[0] for r in active} == {D1 + timedelta(days=n) for n in range(8)}
    assert [r for r in active if r[0] in (D1, D8) and r[1] == "all"] == [
        (D1, "all", 2, 2, 2, 1.0),
        (D8, "all", 1, 2, 2, 0.5),
    ]
    cohorts = ("install_date", "platform", "installs", "retained_d1", "retained_d7", "retained_d30")
    assert gold(GOLD_INSTALL_COHORTS, lake_root, *cohorts) == [
        (D1, "android", 1, 1, 0, 0),
        (D1, "ios", 1, 1, 1, 0),
    ]
    assert gold(GOLD_SCREEN_TRANSITIONS, lake_root, "date", "from_screen", "to_screen", "transitions") == [
        (D2, "Home", "Feed", 1)
    ]
    assert gold(GOLD_VERSION_ADOPTION, lake_root, "date", "platform", "app_version", "devices", "share") == [
        (D1, "android", "2.0", 1, 1.0),
        (D1, "ios", "1.0", 1, 1.0),
        (D2, "android", "2.0", 1, 1.0),
        (D2, "ios", "1.0", 1, 1.0),
        (D8, "ios", "1.1", 1, 1.0),
    ]
    device_columns = (
        "device_key",
        "platform",
        "app_version",
        "install_date",
        "sessions",
        "events",
        "crashes",
    )
    assert gold(GOLD_DEVICES, lake_root, *device_columns) == [
        ("a", "ios", "1.1", D1, 3, 4, 0),
        ("b", "android", "2.0", D1, 2, 2, 1),
    ]

    untouched = unchanged_partitions(lake_root)
    assert all(untouched.values())
    rewritten = partition_files(GOLD_CRASH_FREE, lake_root, D2)
    DeltaTable.forPath(spark, SILVER_SESSIONS.location(lake_root)).update(
        "session_id = 'sb2'", {"crashed": "false"}
    )

    second = run_gold(MOBILE, spark, config, lake_root=lake_root)

    assert second.batches == 1
    assert gold(GOLD_CRASH_FREE, lake_root, *crashes) == [
        (D1, "android", "2.0", 1, 0, 1.0),
        (D1, "ios", "1.0", 1, 0, 1.0),
        (D2, "android", "2.0", 1, 0, 1.0),
        (D2, "ios", "1.0", 1, 0, 1.0),
        (D8, "ios", "1.1", 1, 0, 1.0),
    ]
    assert partition_files(GOLD_CRASH_FREE, lake_root, D2).isdisjoint(rewritten)
    assert unchanged_partitions(lake_root) == untouched
    assert run_gold(MOBILE, spark, config, lake_root=lake_root).batches == 0


def append_silver(
    spark: SparkSession, lake_root: str, events: list[tuple[Any, ...]], sessions: list[tuple[Any, ...]]
) -> None:
    for spec, rows in ((SILVER_EVENTS, events), (SILVER_SESSIONS, sessions)):
        append(spark.createDataFrame(rows, spec.schema), spec, lake_root=lake_root)


def test_a_late_earlier_install_moves_the_device_and_a_reinstall_does_not(
    spark: SparkSession, lake_root: str
) -> None:
    """``a`` (ios) installs on D8 and returns on D9; ``b`` (android) installs on D1 and returns
    on D2. Then a's install event of D1 arrives late, and b reinstalls on D8: the cohort of D8
    is recomputed (a leaves it) from D8's install events, where b's reinstall is not an install."""
    config = load_mobile_config()
    append_silver(
        spark,
        lake_root,
        [
            silver_event("e1", "a", "sa8", ts(D8, 10), "1.0", "installed"),
            silver_event("e2", "a", "sa9", ts(D9, 9), "1.0"),
            silver_event("e3", "b", "sb1", ts(D1, 11), "2.0", "installed"),
            silver_event("e4", "b", "sb2", ts(D2, 12), "2.0"),
        ],
        [
            silver_session("sa8", "a", ts(D8, 10), 60.0, "1.0"),
            silver_session("sa9", "a", ts(D9, 9), 60.0, "1.0"),
            silver_session("sb1", "b", ts(D1, 11), 60.0, "2.0"),
            silver_session("sb2", "b", ts(D2, 12), 60.0, "2.0"),
        ],
    )
    run_gold(MOBILE, spark, config, lake_root=lake_root)
    cohorts = ("install_date", "platform", "installs", "retained_d1", "retained_d7", "retained_d30")
    assert gold(GOLD_INSTALL_COHORTS, lake_root, *cohorts) == [
        (D1, "android", 1, 1, 0, 0),
        (D8, "ios", 1, 1, 0, 0),
    ]

    append_silver(
        spark,
        lake_root,
        [
            silver_event("e5", "a", "sa1", ts(D1, 10), "1.0", "installed"),
            silver_event("e6", "b", "sb8", ts(D8, 12), "2.0", "installed"),
        ],
        [
            silver_session("sa1", "a", ts(D1, 10), 60.0, "1.0"),
            silver_session("sb8", "b", ts(D8, 12), 60.0, "2.0"),
        ],
    )
    assert run_gold(MOBILE, spark, config, lake_root=lake_root).batches == 1

    assert gold(GOLD_INSTALL_COHORTS, lake_root, *cohorts) == [
        (D1, "android", 1, 1, 1, 0),
        (D1, "ios", 1, 0, 1, 0),
    ]
    assert gold(GOLD_DEVICES, lake_root, "device_key", "install_date", "sessions") == [
        ("a", D1, 3),
        ("b", D1, 3),
    ]


def collected(df: DataFrame) -> list[tuple[Any, ...]]:
    return sorted(
        (tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row) for row in df.collect()),
        key=repr,
    )


def test_a_batch_reads_only_its_days_of_silver_and_aggregates_the_devices_from_device_days(
    spark: SparkSession, lake_root: str, tmp_path: Path
) -> None:
    """``a`` installs on D1 and returns on D40; ``b`` installs on D1 and returns on D40 and D41.
    Then ``a`` has a session from 23:50 on D40 to past midnight (crashing on D41) and an
    identify call on D39, and b's D41 leaves silver (events and session): the batch changes the
    sessions of D40 and D41. Silver's D1 partitions are moved away while it runs, so reading any
    of their files fails the job. Afterwards device_days and the device dimension equal a
    computation over the whole of silver."""
    config = load_mobile_config()
    d39, d40, d41 = (D1 + timedelta(days=n) for n in (38, 39, 40))
    append_silver(
        spark,
        lake_root,
        [
            silver_event("e1", "a", "sa1", ts(D1, 10), "1.0", "installed"),
            silver_event("e2", "a", "sa40", ts(d40, 8), "1.1"),
            silver_event("e3", "b", "sb1", ts(D1, 11), "2.0", "installed"),
            silver_event("e4", "b", "sb40", ts(d40, 12), "2.0"),
            silver_event("e5", "b", "sb41", ts(d41, 9), "2.1"),
        ],
        [
            silver_session("sa1", "a", ts(D1, 10), 60.0, "1.0"),
            silver_session("sa40", "a", ts(d40, 8), 60.0, "1.1"),
            silver_session("sb1", "b", ts(D1, 11), 60.0, "2.0"),
            silver_session("sb40", "b", ts(d40, 12), 60.0, "2.0"),
            silver_session("sb41", "b", ts(d41, 9), 60.0, "2.1"),
        ],
    )
    assert run_gold(MOBILE, spark, config, lake_root=lake_root).batches == 1

    identify = silver_event("e8", "a", "", ts(d39, 12), "1.1")
    identify = tuple(
        {"event_type": "identify", "session_id": None}.get(name, value)
        for name, value in zip(SILVER_EVENTS.schema.fieldNames(), identify, strict=True)
    )
    append_silver(
        spark,
        lake_root,
        [
            silver_event("e6", "a", "sax", ts(d40, 23, 50), "1.2"),
            silver_event("e7", "a", "sax", ts(d41, 0, 10), "1.2", "crashed"),
            identify,
        ],
        [silver_session("sax", "a", ts(d40, 23, 50), 1200.0, "1.2", crashed=True)],
    )
    for spec, key in ((SILVER_EVENTS, "event_id = 'e5'"), (SILVER_SESSIONS, "session_id = 'sb41'")):
        DeltaTable.forPath(spark, spec.location(lake_root)).delete(key)
    hidden = tmp_path / "hidden"
    moved = [
        (Path(spec.location(lake_root)) / f"{spec.partition_by[0]}={D1}", hidden / spec.name)
        for spec in (SILVER_EVENTS, SILVER_SESSIONS)
    ]
    hidden.mkdir()
    for partition, away in moved:
        shutil.move(partition, away)
    try:
        assert run_gold(MOBILE, spark, config, lake_root=lake_root).batches == 1
    finally:
        for partition, away in moved:
            shutil.move(away, partition)

    events = read_table(spark, SILVER_EVENTS, lake_root=lake_root)
    sessions = read_table(spark, SILVER_SESSIONS, lake_root=lake_root)
    stored_days = read_table(spark, GOLD_DEVICE_DAYS, lake_root=lake_root)
    assert collected(stored_days) == collected(device_days(events, sessions))
    assert sorted((r.device_key, r.date) for r in stored_days.collect()) == [
        ("a", D1),
        ("a", d39),
        ("a", d40),
        ("a", d41),
        ("b", D1),
        ("b", d40),
    ]
    devices = read_table(spark, GOLD_DEVICES, lake_root=lake_root)
    assert collected(devices) == collected(device_dimension(events, sessions))
    device_columns = (
        "device_key",
        "app_version",
        "last_seen",
        "install_date",
        "sessions",
        "events",
        "crashes",
    )
    assert gold(GOLD_DEVICES, lake_root, *device_columns) == [
        ("a", "1.2", ts(d41, 0, 10), D1, 3, 5, 1),
        ("b", "2.0", ts(d40, 12), D1, 2, 2, 0),
    ]
