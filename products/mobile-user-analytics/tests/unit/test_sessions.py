import hashlib
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.contracts import spark_schema
from mobile_user_analytics.contracts import AppSession, MobileEvent, ScreenView
from mobile_user_analytics.processing.sessions import screen_views, sessionise, summarise_sessions

pytestmark = pytest.mark.unit

T0 = datetime(2024, 3, 10, 9, 50)
TEN = datetime(2024, 3, 10, 10, 0)


def event(event_id: str, at: datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {f.name: None for f in spark_schema(MobileEvent).fields}
    row.update(
        event_id=event_id,
        event_type="track",
        device_key="d1",
        event_ts=at,
        received_at=at,
        event_date=at.date(),
        platform="ios",
        source_partition=0,
        source_offset=0,
        imported=False,
    )
    row.update(values)
    return row


def lifecycle(event_id: str, at: datetime, name: str, **values: Any) -> dict[str, Any]:
    return event(event_id, at, event_name=f"Application {name.title()}", lifecycle=name, **values)


def screen(event_id: str, at: datetime, name: str | None, **values: Any) -> dict[str, Any]:
    return event(event_id, at, event_type="screen", event_name=name, screen_name=name, **values)


def at(minute: float) -> datetime:
    return TEN + timedelta(minutes=minute)


def frame(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    schema = spark_schema(MobileEvent)
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


def session_ids(spark: SparkSession, rows: list[dict[str, Any]]) -> dict[str, str | None]:
    result = sessionise(frame(spark, rows), inactivity_minutes=30)
    assert result.columns == [f.name for f in spark_schema(MobileEvent).fields]
    return {r.event_id: r.session_id for r in result.collect()}


def expected_id(device: str, started_at: datetime) -> str:
    micros = int((started_at - datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    return hashlib.sha256(f"{device}|{micros}".encode()).hexdigest()


def background_then_open(reopened_minute: float) -> list[dict[str, Any]]:
    return [
        lifecycle("open", T0, "opened"),
        screen("home", at(-5), "Home"),
        lifecycle("background", at(0), "backgrounded"),
        lifecycle("reopen", at(reopened_minute), "opened"),
    ]


def test_back_from_background_after_31_minutes_is_a_new_session(spark: SparkSession) -> None:
    first, second = expected_id("d1", T0), expected_id("d1", at(31))

    assert session_ids(spark, background_then_open(31)) == {
        "open": first,
        "home": first,
        "background": first,
        "reopen": second,
    }


def test_back_from_background_after_20_minutes_continues_the_session(spark: SparkSession) -> None:
    ids = session_ids(spark, background_then_open(20))

    assert set(ids.values()) == {expected_id("d1", T0)}


def test_events_sent_from_the_background_do_not_keep_the_session_alive(spark: SparkSession) -> None:
    rows = [
        *background_then_open(40)[:3],
        event("push", at(20), event_name="Push Notification Received"),
        lifecycle("reopen", at(40), "opened"),
        screen("cart", at(45), "Cart"),
    ]

    first, second = expected_id("d1", T0), expected_id("d1", at(40))
    assert session_ids(spark, rows) == {
        "open": first,
        "home": first,
        "background": first,
        "push": first,
        "reopen": second,
        "cart": second,
    }


def test_opened_after_a_crash_starts_a_new_session_and_the_crashed_one_is_flagged(
    spark: SparkSession,
) -> None:
    rows = [
        lifecycle("open", at(0), "opened"),
        screen("home", at(1), "Home"),
        lifecycle("crash", at(2), "crashed"),
        lifecycle("relaunch", at(3), "opened"),
        lifecycle("open-again", at(4), "opened"),
    ]

    sessionised = sessionise(frame(spark, rows), inactivity_minutes=30)
    sessions = {
        r.session_id: (r.started_at, r.events, r.crashed) for r in summarise_sessions(sessionised).collect()
    }

    first, second = expected_id("d1", at(0)), expected_id("d1", at(3))
    assert {r.event_id: r.session_id for r in sessionised.collect()} == {
        "open": first,
        "home": first,
        "crash": first,
        "relaunch": second,
        "open-again": second,
    }
    assert sessions == {first: (at(0), 3, True), second: (at(3), 2, False)}


def test_identify_alias_and_group_get_no_session_and_devices_are_apart(spark: SparkSession) -> None:
    rows = [
        lifecycle("open", at(0), "opened"),
        event("identify", at(1), event_type="identify"),
        event("alias", at(2), event_type="alias"),
        event("group", at(3), event_type="group"),
        lifecycle("other-device", at(1), "opened", device_key="d2"),
    ]

    assert session_ids(spark, rows) == {
        "open": expected_id("d1", at(0)),
        "identify": None,
        "alias": None,
        "group": None,
        "other-device": expected_id("d2", at(1)),
    }


def test_an_upgrade_mid_session_keeps_the_sessions_start_version(spark: SparkSession) -> None:
    rows = [
        lifecycle("open", at(0), "opened", app_version="2.2.1", os_version="17.3"),
        lifecycle(
            "update",
            at(2),
            "updated",
            app_version="2.3.0",
            previous_app_version="2.2.1",
            user_key="u1",
            subject_key="s1",
        ),
        screen(
            "home", at(3), "Home", app_version="2.3.0", os_version="17.4", user_key="u2", subject_key="s2"
        ),
        event("identify", at(4), event_type="identify", user_key="u0"),
    ]

    sessionised = sessionise(frame(spark, rows), inactivity_minutes=30)
    sessions = summarise_sessions(sessionised)

    assert sessions.columns == [f.name for f in spark_schema(AppSession).fields]
    assert [r.asDict() for r in sessions.collect()] == [
        {
            "session_id": expected_id("d1", at(0)),
            "device_key": "d1",
            "user_key": "u1",
            "session_date": date(2024, 3, 10),
            "started_at": at(0),
            "ended_at": at(3),
            "duration_seconds": 180.0,
            "events": 3,
            "screen_views": 1,
            "app_version": "2.2.1",
            "platform": "ios",
            "os_version": "17.3",
            "crashed": False,
            "subject_key": "s1",
        }
    ]
    assert {r.event_id: r.app_version for r in sessionised.collect()} == {
        "open": "2.2.1",
        "update": "2.3.0",
        "home": "2.3.0",
        "identify": None,
    }


def test_screen_views_know_their_neighbours_and_time_until_the_next_event(spark: SparkSession) -> None:
    rows = [
        lifecycle("open", at(0), "opened"),
        screen("home", at(0.25), "Home"),
        event("add", at(0.75), event_name="Product Added"),
        screen("cart", at(1), "Cart"),
        screen("checkout", at(3), None),
        screen("b1-settings", at(60), "Settings", app_version="2.3.0"),
        screen("b2-profile", at(60), "Profile"),
        lifecycle("b-background", at(60.5), "backgrounded"),
    ]

    views = screen_views(sessionise(frame(spark, rows), inactivity_minutes=30))

    assert views.columns == [f.name for f in spark_schema(ScreenView).fields]
    first, second = expected_id("d1", at(0)), expected_id("d1", at(60))
    assert {
        r.event_id: (r.session_id, r.screen_name, r.previous_screen, r.next_screen, r.seconds_on_screen)
        for r in views.collect()
    } == {
        "home": (first, "Home", None, "Cart", 45.0),
        "cart": (first, "Cart", "Home", "(not set)", 120.0),
        "checkout": (first, "(not set)", "Cart", None, None),
        "b1-settings": (second, "Settings", None, "Profile", 0.0),
        "b2-profile": (second, "Profile", "Settings", None, 30.0),
    }
    settings = next(r for r in views.collect() if r.event_id == "b1-settings")
    assert (settings.viewed_at, settings.event_date, settings.app_version, settings.platform) == (
        at(60),
        date(2024, 3, 10),
        "2.3.0",
        "ios",
    )
