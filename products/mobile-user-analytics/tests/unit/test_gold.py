"""Gold transforms on tiny hand-built silver frames, expected rows computed by hand.

Days are numbered: ``day(1)`` is 2024-06-01, ``day(20)`` nineteen days later. Every test states
its own data; platforms are ``ios`` and ``android``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.contracts import spark_schema
from mobile_user_analytics.contracts import (
    ActiveUsers,
    AppSession,
    CrashFree,
    DeviceDay,
    DeviceDimension,
    InstallCohort,
    MobileEvent,
    OsAdoption,
    ScreenStats,
    ScreenTransition,
    ScreenView,
    SessionStats,
    VersionAdoption,
)
from mobile_user_analytics.processing.gold import (
    active_users,
    active_users_affected_dates,
    active_users_input_dates,
    affected_install_dates,
    crash_free,
    device_days,
    device_days_dates,
    device_dimension,
    devices_from_days,
    first_install_events,
    install_cohorts,
    os_adoption,
    retention_input_dates,
    screen_stats,
    screen_transitions,
    session_stats,
    version_adoption,
)

pytestmark = pytest.mark.unit


def day(n: int) -> date:
    return date(2024, 6, 1) + timedelta(days=n - 1)


def at(n: int, hour: int, minute: int = 0) -> datetime:
    d = day(n)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


def frame(spark: SparkSession, model: type[BaseModel], rows: list[dict[str, Any]]) -> DataFrame:
    schema = spark_schema(model)
    return spark.createDataFrame([tuple(row.get(f.name) for f in schema.fields) for row in rows], schema)


def event(
    event_id: str,
    device: str,
    ts: datetime,
    *,
    in_session: bool = True,
    lifecycle: str | None = None,
    platform: str = "ios",
    version: str | None = "1.0",
    os: str | None = "17.4",
    model: str | None = "iPhone15,2",
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": "track" if in_session else "identify",
        "event_name": None,
        "device_key": device,
        "user_key": None,
        "event_ts": ts,
        "received_at": ts,
        "event_date": ts.date(),
        "session_id": f"{device}-{ts.date()}" if in_session else None,
        "lifecycle": lifecycle,
        "screen_name": None,
        "app_name": "Shop",
        "app_version": version,
        "app_build": None,
        "previous_app_version": None,
        "platform": platform,
        "os_version": os,
        "device_manufacturer": "Apple" if platform == "ios" else "Google",
        "device_model": model,
        "device_type": "phone",
        "network_wifi": True,
        "network_carrier": None,
        "screen_width": 390,
        "screen_height": 844,
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "country": "DE",
        "properties_json": None,
        "traits_json": None,
        "previous_id": None,
        "group_id": None,
        "imported": False,
        "source_partition": 0,
        "source_offset": 0,
    }


def session(
    session_id: str,
    device: str,
    started_at: datetime,
    seconds: float = 60.0,
    *,
    platform: str = "ios",
    version: str | None = "1.0",
    crashed: bool = False,
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "device_key": device,
        "user_key": None,
        "session_date": started_at.date(),
        "started_at": started_at,
        "ended_at": started_at + timedelta(seconds=seconds),
        "duration_seconds": float(seconds),
        "events": 2,
        "screen_views": 1,
        "app_version": version,
        "platform": platform,
        "os_version": "17.4",
        "crashed": crashed,
    }


def view(
    event_id: str,
    session_id: str,
    device: str,
    ts: datetime,
    screen: str,
    previous: str | None,
    following: str | None,
    seconds: float | None,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "session_id": session_id,
        "device_key": device,
        "event_date": ts.date(),
        "viewed_at": ts,
        "screen_name": screen,
        "previous_screen": previous,
        "next_screen": following,
        "seconds_on_screen": seconds,
        "app_version": "1.0",
        "platform": "ios",
    }


def rows(df: DataFrame) -> list[tuple[Any, ...]]:
    """Collected rows, sorted; timestamps (collected as naive local time) made aware in UTC."""
    return sorted(
        (
            tuple(value.astimezone(UTC) if isinstance(value, datetime) else value for value in row)
            for row in df.collect()
        ),
        key=repr,
    )


@pytest.fixture(scope="module")
def activity(spark: SparkSession) -> DataFrame:
    """a (ios) is active on days 1, 5 and 20; b (android) on day 5 only; c sends only an
    identify call on day 5, which is no app activity."""
    return frame(
        spark,
        MobileEvent,
        [
            event("a1", "a", at(1, 9)),
            event("a2", "a", at(1, 10)),
            event("a3", "a", at(5, 9)),
            event("a4", "a", at(20, 23, 59)),
            event("b1", "b", at(5, 12), platform="android"),
            event("c1", "c", at(5, 12), in_session=False),
        ],
    )


def test_active_users_count_devices_over_trailing_7_and_30_days(activity: DataFrame) -> None:
    days = {day(1), day(5), day(7), day(12), day(20), day(34), day(35)}
    active = active_users(activity, days)

    assert active.schema == spark_schema(ActiveUsers)
    assert rows(active) == sorted(
        [
            (day(1), "all", 1, 1, 1, 1.0),
            (day(1), "ios", 1, 1, 1, 1.0),
            (day(5), "all", 2, 2, 2, 1.0),
            (day(5), "android", 1, 1, 1, 1.0),
            (day(5), "ios", 1, 1, 1, 1.0),
            (day(7), "all", 0, 2, 2, 0.0),
            (day(7), "android", 0, 1, 1, 0.0),
            (day(7), "ios", 0, 1, 1, 0.0),
            (day(12), "all", 0, 0, 2, 0.0),
            (day(12), "android", 0, 0, 1, 0.0),
            (day(12), "ios", 0, 0, 1, 0.0),
            (day(20), "all", 1, 1, 2, 0.5),
            (day(20), "android", 0, 0, 1, 0.0),
            (day(20), "ios", 1, 1, 1, 1.0),
            (day(34), "all", 0, 0, 2, 0.0),
            (day(34), "android", 0, 0, 1, 0.0),
            (day(34), "ios", 0, 0, 1, 0.0),
            (day(35), "all", 0, 0, 1, 0.0),
            (day(35), "ios", 0, 0, 1, 0.0),
        ],
        key=repr,
    )


def test_active_users_without_dates_cover_the_first_to_the_last_event_day(activity: DataFrame) -> None:
    """Days 1-4 have ios and all rows; days 5-20 android too (b stays in its 30-day window)."""
    active = rows(active_users(activity))

    assert len(active) == 4 * 2 + 16 * 3
    assert {r[0] for r in active} == {day(n) for n in range(1, 21)}
    assert [r for r in active if r[0] == day(20)] == [
        (day(20), "all", 1, 1, 2, 0.5),
        (day(20), "android", 0, 0, 1, 0.0),
        (day(20), "ios", 1, 1, 1, 1.0),
    ]


def test_active_users_windows_reach_29_days_back_and_forward() -> None:
    assert active_users_input_dates({day(30)}) == {day(n) for n in range(1, 31)}
    assert active_users_affected_dates({day(1)}) == {day(n) for n in range(1, 31)}


@pytest.fixture(scope="module")
def sessions(spark: SparkSession) -> DataFrame:
    """Day 1: a runs 1.0 without trouble; release 2.0 crashes for b and c; d's Android app
    reports no version. Day 2: e on Android 3.0."""
    return frame(
        spark,
        AppSession,
        [
            session("s1", "a", at(1, 8), 60),
            session("s2", "a", at(1, 9), 120),
            session("s3", "b", at(1, 10), 30, version="2.0", crashed=True),
            session("s4", "b", at(1, 11), 90, version="2.0"),
            session("s5", "c", at(1, 12), 10, version="2.0", crashed=True),
            session("s6", "d", at(1, 13), 300, platform="android", version=None),
            session("s7", "e", at(2, 13), 50, platform="android", version="3.0"),
        ],
    )


def test_session_stats_cube_platform_and_version_with_exact_medians(sessions: DataFrame) -> None:
    stats = session_stats(sessions)

    assert stats.schema == spark_schema(SessionStats)
    assert rows(stats) == sorted(
        [
            (day(1), "all", "1.0", 2, 1, 2.0, 90.0, 90.0),
            (day(1), "all", "2.0", 3, 2, 1.5, 130 / 3, 30.0),
            (day(1), "all", "all", 6, 4, 1.5, 610 / 6, 75.0),
            (day(1), "all", "unknown", 1, 1, 1.0, 300.0, 300.0),
            (day(1), "android", "all", 1, 1, 1.0, 300.0, 300.0),
            (day(1), "android", "unknown", 1, 1, 1.0, 300.0, 300.0),
            (day(1), "ios", "1.0", 2, 1, 2.0, 90.0, 90.0),
            (day(1), "ios", "2.0", 3, 2, 1.5, 130 / 3, 30.0),
            (day(1), "ios", "all", 5, 3, 5 / 3, 62.0, 60.0),
            (day(2), "all", "3.0", 1, 1, 1.0, 50.0, 50.0),
            (day(2), "all", "all", 1, 1, 1.0, 50.0, 50.0),
            (day(2), "android", "3.0", 1, 1, 1.0, 50.0, 50.0),
            (day(2), "android", "all", 1, 1, 1.0, 50.0, 50.0),
        ],
        key=repr,
    )


def test_session_stats_return_only_the_requested_dates(sessions: DataFrame) -> None:
    assert {r[0] for r in rows(session_stats(sessions, {day(2)}))} == {day(2)}


def test_crash_free_counts_crashed_sessions_and_devices(sessions: DataFrame) -> None:
    crashes = crash_free(sessions, {day(1)})

    assert crashes.schema == spark_schema(CrashFree)
    assert rows(crashes) == sorted(
        [
            (day(1), "android", "unknown", 1, 0, 1.0, 1, 0, 1.0),
            (day(1), "ios", "1.0", 2, 0, 1.0, 1, 0, 1.0),
            (day(1), "ios", "2.0", 3, 2, 1 - 2 / 3, 2, 2, 0.0),
        ],
        key=repr,
    )


@pytest.fixture(scope="module")
def screen_views(spark: SparkSession) -> DataFrame:
    """Day 1: x1 (a) Home → Feed → Home → Settings; x2 (b) Home → Feed. Day 2: x3 (a) Feed."""
    return frame(
        spark,
        ScreenView,
        [
            view("v1", "x1", "a", at(1, 9, 0), "Home", None, "Feed", 10.0),
            view("v2", "x1", "a", at(1, 9, 1), "Feed", "Home", "Home", 20.0),
            view("v3", "x1", "a", at(1, 9, 2), "Home", "Feed", "Settings", 30.0),
            view("v4", "x1", "a", at(1, 9, 3), "Settings", "Home", None, None),
            view("v5", "x2", "b", at(1, 10, 0), "Home", None, "Feed", 5.0),
            view("v6", "x2", "b", at(1, 10, 1), "Feed", "Home", None, None),
            view("v7", "x3", "a", at(2, 8, 0), "Feed", None, None, None),
        ],
    )


def test_screen_stats_count_views_entries_and_exits(screen_views: DataFrame) -> None:
    stats = screen_stats(screen_views)

    assert stats.schema == spark_schema(ScreenStats)
    assert rows(stats) == sorted(
        [
            (day(1), "Feed", 2, 2, 20.0, 0, 1),
            (day(1), "Home", 3, 2, 15.0, 2, 0),
            (day(1), "Settings", 1, 1, None, 0, 1),
            (day(2), "Feed", 1, 1, None, 1, 1),
        ],
        key=repr,
    )
    assert rows(screen_stats(screen_views, {day(2)})) == [(day(2), "Feed", 1, 1, None, 1, 1)]


def test_screen_transitions_pair_each_screen_with_the_one_before(screen_views: DataFrame) -> None:
    moves = screen_transitions(screen_views)

    assert moves.schema == spark_schema(ScreenTransition)
    assert rows(moves) == [
        (day(1), "Feed", "Home", 1),
        (day(1), "Home", "Feed", 2),
        (day(1), "Home", "Settings", 1),
    ]
    assert rows(screen_transitions(screen_views, {day(2)})) == []


@pytest.fixture(scope="module")
def installs(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    """Installed on day 1: a (ios) back on days 2 and 8; b (ios) back on day 31; c (android)
    back on day 2 and on day 8, when it reinstalls. Installed on day 2: e (android), back on
    day 3. f (ios) never sent an install event."""
    events = frame(
        spark,
        MobileEvent,
        [
            event("a1", "a", at(1, 9), lifecycle="installed"),
            event("b1", "b", at(1, 9), lifecycle="installed"),
            event("c1", "c", at(1, 9), lifecycle="installed", platform="android"),
            event("c2", "c", at(8, 9), lifecycle="installed", platform="android"),
            event("e1", "e", at(2, 9), lifecycle="installed", platform="android"),
            event("f1", "f", at(1, 9), lifecycle="opened"),
        ],
    )
    sessions = frame(
        spark,
        AppSession,
        [
            session("a-1", "a", at(1, 9)),
            session("a-2", "a", at(2, 9)),
            session("a-8", "a", at(8, 9)),
            session("b-1", "b", at(1, 9)),
            session("b-31", "b", at(31, 9)),
            session("c-2", "c", at(2, 9), platform="android"),
            session("c-8", "c", at(8, 9), platform="android"),
            session("e-3", "e", at(3, 9), platform="android"),
            session("f-2", "f", at(2, 9)),
        ],
    )
    return events, sessions


def test_install_cohorts_count_returns_on_exactly_day_1_7_and_30(
    installs: tuple[DataFrame, DataFrame],
) -> None:
    cohorts = install_cohorts(*installs)

    assert cohorts.schema == spark_schema(InstallCohort)
    assert rows(cohorts) == sorted(
        [
            (day(1), "android", 1, 1, 1, 0, 1.0, 1.0, 0.0),
            (day(1), "ios", 2, 1, 1, 1, 0.5, 0.5, 0.5),
            (day(2), "android", 1, 1, 0, 0, 1.0, 0.0, 0.0),
        ],
        key=repr,
    )


def test_install_cohorts_keep_a_reinstall_in_its_first_cohort(
    installs: tuple[DataFrame, DataFrame],
) -> None:
    assert rows(install_cohorts(*installs, install_dates={day(8)})) == []
    assert rows(install_cohorts(*installs, install_dates={day(2)})) == [
        (day(2), "android", 1, 1, 0, 0, 1.0, 0.0, 0.0),
    ]


def install_days(spark: SparkSession, rows: list[tuple[str, date | None]]) -> DataFrame:
    return spark.createDataFrame(rows, "device_key string, install_date date")


def changed_sessions(spark: SparkSession, rows: list[tuple[date, str]]) -> DataFrame:
    return spark.createDataFrame(rows, "session_date date, device_key string")


def dates_of(frame: DataFrame) -> set[date]:
    return {r["install_date"] for r in frame.collect()}


def test_affected_install_dates_of_one_recent_day_skip_old_cohorts(spark: SparkSession) -> None:
    """a, b and c were installed long ago and come back on day 90 only; d installs on day 90."""
    old = [("a", day(1)), ("b", day(2)), ("c", day(45))]
    changed = changed_sessions(spark, [(day(90), device) for device in "abcd"])

    affected = affected_install_dates(
        changed, install_days(spark, old), install_days(spark, [*old, ("d", day(90))])
    )

    assert dates_of(affected) == {day(90)}


def test_affected_install_dates_follow_a_moved_install_and_the_returns(spark: SparkSession) -> None:
    """a moves from day 10 to day 5 (a late, earlier install event); b stays on day 11 (a later
    reinstall) and has a changed session on day 41 (its day 30) and day 13 (no retention day);
    c stays on day 20 with a change on day 19 (its install day's session began the evening
    before); e has no install event."""
    stored = install_days(spark, [("a", day(10)), ("b", day(11)), ("c", day(20)), ("e", None)])
    current = install_days(spark, [("a", day(5)), ("b", day(11)), ("c", day(20)), ("e", None)])
    changed = changed_sessions(
        spark,
        [(day(5), "a"), (day(13), "b"), (day(41), "b"), (day(19), "c"), (day(21), "e")],
    )

    assert dates_of(affected_install_dates(changed, stored, current)) == {
        day(5),
        day(10),
        day(11),
        day(20),
    }
    b = install_days(spark, [("b", day(11))])
    b_on_day_13 = changed_sessions(spark, [(day(13), "b")])
    assert dates_of(affected_install_dates(b_on_day_13, b, b)) == set()


def test_first_install_events_keep_a_reinstall_out_of_the_day_it_happened(
    installs: tuple[DataFrame, DataFrame],
) -> None:
    """c's reinstall on day 8, read without its first install on day 1, is not an install."""
    events, sessions = installs
    devices = install_days(events.sparkSession, [("c", day(1)), ("e", day(2))])
    day_8 = events.where(events["event_date"] == day(8))

    assert rows(install_cohorts(day_8, sessions, {day(8)})) != []
    assert rows(install_cohorts(first_install_events(day_8, devices), sessions, {day(8)})) == []
    day_2 = first_install_events(events.where(events["event_date"] == day(2)), devices)
    assert rows(install_cohorts(day_2, sessions, {day(2)})) == [
        (day(2), "android", 1, 1, 0, 0, 1.0, 0.0, 0.0),
    ]


def test_retention_input_dates_are_day_1_7_and_30() -> None:
    assert retention_input_dates({day(1)}) == {day(2), day(8), day(31)}


@pytest.fixture(scope="module")
def upgrade(spark: SparkSession) -> DataFrame:
    """ios devices a, b, c move from app 1.0 to 1.1: c and, mid-day, a on day 2, b on day 3.
    Android d stays on 5.0 (a later event without a version changes nothing); Android e reports
    no version at all on day 3; f's identify call with 9.9 is no app activity."""
    return frame(
        spark,
        MobileEvent,
        [
            event("a1", "a", at(1, 9)),
            event("b1", "b", at(1, 9)),
            event("c1", "c", at(1, 9), os="16.0"),
            event("d1", "d", at(1, 9), platform="android", version="5.0", os="14"),
            event("a2", "a", at(2, 9)),
            event("a3", "a", at(2, 10), version="1.1"),
            event("b2", "b", at(2, 9)),
            event("c2", "c", at(2, 9), version="1.1", os="16.0"),
            event("d2", "d", at(2, 9), platform="android", version="5.0", os="14"),
            event("d3", "d", at(2, 10), platform="android", version=None, os=None),
            event("a4", "a", at(3, 9), version="1.1"),
            event("b3", "b", at(3, 9), version="1.1"),
            event("c3", "c", at(3, 9), version="1.1", os="16.0"),
            event("e1", "e", at(3, 9), platform="android", version=None, os=None),
            event("f1", "f", at(3, 9), in_session=False, version="9.9"),
        ],
    )


def test_version_adoption_spreads_an_upgrade_over_the_days(upgrade: DataFrame) -> None:
    adoption = version_adoption(upgrade)

    assert adoption.schema == spark_schema(VersionAdoption)
    assert rows(adoption) == sorted(
        [
            (day(1), "android", "5.0", 1, 1.0),
            (day(1), "ios", "1.0", 3, 1.0),
            (day(2), "android", "5.0", 1, 1.0),
            (day(2), "ios", "1.0", 1, 1 / 3),
            (day(2), "ios", "1.1", 2, 2 / 3),
            (day(3), "android", "unknown", 1, 1.0),
            (day(3), "ios", "1.1", 3, 1.0),
        ],
        key=repr,
    )


def test_os_adoption_shares_are_per_platform(upgrade: DataFrame) -> None:
    adoption = os_adoption(upgrade, {day(1)})

    assert adoption.schema == spark_schema(OsAdoption)
    assert rows(adoption) == sorted(
        [
            (day(1), "android", "14", 1, 1.0),
            (day(1), "ios", "16.0", 1, 1 / 3),
            (day(1), "ios", "17.4", 2, 2 / 3),
        ],
        key=repr,
    )


def test_device_dimension_summarises_each_device(spark: SparkSession, upgrade: DataFrame) -> None:
    """a installs on day 1, upgrades on day 2, crashes on day 3 and its last call (identify)
    carries no versions; e has no session and no install event."""
    events = upgrade.where("device_key IN ('a', 'e')").unionByName(
        frame(
            spark,
            MobileEvent,
            [
                event("a0", "a", at(1, 8), lifecycle="installed"),
                event("a5", "a", at(3, 10), lifecycle="crashed", version="1.1", model=None),
                event("a6", "a", at(3, 11), in_session=False, version=None, os=None, model=None),
            ],
        )
    )
    sessions = frame(
        spark, AppSession, [session("a-1", "a", at(1, 8)), session("a-3", "a", at(3, 9), version="1.1")]
    )

    devices = device_dimension(events, sessions)

    assert devices.schema == spark_schema(DeviceDimension)
    assert rows(devices) == [
        ("a", "ios", "Apple", "iPhone15,2", "17.4", "1.1", at(1, 8), at(3, 11), day(1), 2, 7, 1),
        ("e", "android", "Google", "iPhone15,2", None, None, at(3, 9), at(3, 9), None, 0, 1, 0),
    ]


@pytest.fixture(scope="module")
def device_history(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    """Days 1 and 2 of three devices:

    - t1: its two latest events share an instant on day 2; by ``event_id`` the last (t1-c) is
      on ios with no app or OS version, the other on android with app 2.0
    - t2: installs at 23:50 on day 1 in a session that runs past midnight and crashes on day 2
    - t3: a session on each day; its install and an identify call without app version on day 2
    """
    events = [
        event("t1-a", "t1", at(1, 9)),
        event("t1-b", "t1", at(2, 10), platform="android", version="2.0", model=None),
        event("t1-c", "t1", at(2, 10), version=None, os=None, model="X"),
        event("t2-a", "t2", at(1, 23, 50), lifecycle="installed"),
        event("t2-b", "t2", at(2, 0, 10), lifecycle="crashed", version="1.1"),
        event("t3-a", "t3", at(1, 8)),
        event("t3-b", "t3", at(2, 8), lifecycle="installed", version="1.1"),
        event("t3-c", "t3", at(2, 9), in_session=False, version=None),
    ]
    sessions = [
        session("t1-1", "t1", at(1, 9)),
        session("t1-2", "t1", at(2, 10)),
        session("t2-1", "t2", at(1, 23, 50), 1200.0),
        session("t3-1", "t3", at(1, 8)),
        session("t3-2", "t3", at(2, 8)),
    ]
    return frame(spark, MobileEvent, events), frame(spark, AppSession, sessions)


def day_by_day(events: DataFrame, sessions: DataFrame, days: list[int]) -> DataFrame:
    """``device_days`` of each day from that day's silver rows only, as the gold job reads them."""
    computed = [
        device_days(
            events.where(events.event_date == day(n)),
            sessions.where(sessions.session_date == day(n)),
            {day(n)},
        )
        for n in days
    ]
    return computed[0].unionByName(computed[1]) if len(computed) == 2 else computed[0]


def test_device_days_count_events_on_their_day_and_sessions_on_their_start_day(
    device_history: tuple[DataFrame, DataFrame],
) -> None:
    """t2's session counts on day 1, its crash after midnight on day 2; t1's day 2 takes the
    values of t1-c, the last of the two events at 10:00, and the app version of t1-b."""
    days = device_days(*device_history)

    ios = ("ios", "Apple", "iPhone15,2", "17.4")
    assert days.schema == spark_schema(DeviceDay)
    assert rows(days) == [
        ("t1", day(1), 1, 1, 0, 0, at(1, 9), at(1, 9), *ios, "1.0"),
        ("t1", day(2), 2, 1, 0, 0, at(2, 10), at(2, 10), "ios", "Apple", "X", "17.4", "2.0"),
        ("t2", day(1), 1, 1, 0, 1, at(1, 23, 50), at(1, 23, 50), *ios, "1.0"),
        ("t2", day(2), 1, 0, 1, 0, at(2, 0, 10), at(2, 0, 10), *ios, "1.1"),
        ("t3", day(1), 1, 1, 0, 0, at(1, 8), at(1, 8), *ios, "1.0"),
        ("t3", day(2), 2, 1, 0, 1, at(2, 8), at(2, 9), *ios, "1.1"),
    ]


def test_device_dimension_from_device_days_computed_day_by_day_equals_the_definition(
    device_history: tuple[DataFrame, DataFrame],
) -> None:
    """Then t3's day 2 vanishes from silver (events and session): rewriting that day's
    partition alone takes its install, events and app version out of t3's row."""
    events, sessions = device_history
    days = day_by_day(events, sessions, [1, 2])

    assert rows(days) == rows(device_days(events, sessions))
    devices = devices_from_days(days)
    assert devices.schema == spark_schema(DeviceDimension)
    assert rows(devices) == rows(device_dimension(events, sessions))
    assert rows(devices) == [
        ("t1", "ios", "Apple", "X", "17.4", "2.0", at(1, 9), at(2, 10), None, 2, 3, 0),
        ("t2", "ios", "Apple", "iPhone15,2", "17.4", "1.1", at(1, 23, 50), at(2, 0, 10), day(1), 1, 2, 1),
        ("t3", "ios", "Apple", "iPhone15,2", "17.4", "1.1", at(1, 8), at(2, 9), day(2), 2, 3, 0),
    ]

    gone = "device_key = 't3' AND {} = '2024-06-02'"
    events = events.where(f"NOT ({gone.format('event_date')})")
    sessions = sessions.where(f"NOT ({gone.format('session_date')})")
    days = days.where(days.date != day(2)).unionByName(day_by_day(events, sessions, [2]))

    devices = devices_from_days(days)
    assert rows(devices) == rows(device_dimension(events, sessions))
    assert [r for r in rows(devices) if r[0] == "t3"] == [
        ("t3", "ios", "Apple", "iPhone15,2", "17.4", "1.0", at(1, 8), at(1, 8), None, 1, 1, 0),
    ]


def test_device_days_dates_are_each_changed_day_and_one_either_side() -> None:
    assert device_days_dates({day(5), day(9)}) == {day(4), day(5), day(6), day(8), day(9), day(10)}
