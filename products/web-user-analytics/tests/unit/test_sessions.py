import hashlib
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.contracts import spark_schema
from web_user_analytics.contracts import WebEvent, WebSession
from web_user_analytics.processing.sessions import sessionise, summarise_sessions

pytestmark = pytest.mark.unit

T0 = datetime(2024, 3, 10, 9, 0)


def event(event_id: str, minute: float, **values: Any) -> dict[str, Any]:
    ts = T0 + timedelta(minutes=minute)
    row: dict[str, Any] = {f.name: None for f in spark_schema(WebEvent).fields}
    row.update(
        event_id=event_id,
        event_type="page",
        visitor_id="v1",
        event_ts=ts,
        received_at=ts,
        event_date=ts.date(),
        referrer_class="direct",
        device_type="desktop",
        is_bot=False,
        source_partition=0,
        source_offset=0,
        imported=False,
    )
    row.update(values)
    return row


def frame(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    schema = spark_schema(WebEvent)
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


def session_ids(spark: SparkSession, rows: list[dict[str, Any]]) -> dict[str, str | None]:
    result = sessionise(frame(spark, rows), inactivity_minutes=30)
    return {r.event_id: r.session_id for r in result.collect()}


def expected_id(visitor: str, started_at: datetime) -> str:
    micros = int((started_at - datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    return hashlib.sha256(f"{visitor}|{micros}".encode()).hexdigest()


def test_29_minutes_apart_is_one_session_31_is_two(spark: SparkSession) -> None:
    ids = session_ids(spark, [event("a", 0), event("b", 29), event("c", 60)])

    assert ids == {
        "a": expected_id("v1", T0),
        "b": expected_id("v1", T0),
        "c": expected_id("v1", T0 + timedelta(minutes=60)),
    }


def test_session_crossing_midnight_stays_one_session(spark: SparkSession) -> None:
    late = datetime(2024, 3, 10, 23, 45)
    rows = [
        event("a", 0, event_ts=late, event_date=late.date()),
        event("b", 0, event_ts=late + timedelta(minutes=25), event_date=date(2024, 3, 11)),
    ]

    sessionised = sessionise(frame(spark, rows), inactivity_minutes=30)
    sessions = summarise_sessions(sessionised).collect()

    assert {r.session_id for r in sessionised.collect()} == {expected_id("v1", late)}
    assert len(sessions) == 1
    assert (
        sessions[0].session_date,
        sessions[0].started_at,
        sessions[0].ended_at,
        sessions[0].duration_seconds,
    ) == (
        date(2024, 3, 10),
        late,
        late + timedelta(minutes=25),
        1500.0,
    )


def test_a_new_campaign_mid_visit_starts_a_session(spark: SparkSession) -> None:
    rows = [
        event("a", 0, utm_source="google", utm_medium="cpc", utm_campaign="brand"),
        event("b", 2),
        event("c", 4, event_type="track", utm_source="google", utm_medium="cpc", utm_campaign="brand"),
        event("d", 6, utm_source="newsletter", utm_medium="email"),
        event("e", 8),
    ]

    ids = session_ids(spark, rows)

    first, second = expected_id("v1", T0), expected_id("v1", T0 + timedelta(minutes=6))
    assert ids == {"a": first, "b": first, "c": first, "d": second, "e": second}


def test_only_page_track_and_screen_events_get_sessions(spark: SparkSession) -> None:
    rows = [
        event("p", 0),
        event("t", 1, event_type="track"),
        event("s", 2, event_type="screen"),
        event("i", 3, event_type="identify"),
        event("al", 4, event_type="alias"),
        event("g", 5, event_type="group"),
        event("other-visitor", 1, visitor_id="v2"),
    ]

    result = sessionise(frame(spark, rows), inactivity_minutes=30)

    assert result.columns == [f.name for f in spark_schema(WebEvent).fields]
    assert {r.event_id: r.session_id for r in result.collect()} == {
        "p": expected_id("v1", T0),
        "t": expected_id("v1", T0),
        "s": expected_id("v1", T0),
        "i": None,
        "al": None,
        "g": None,
        "other-visitor": expected_id("v2", T0 + timedelta(minutes=1)),
    }


def summary(spark: SparkSession, rows: list[dict[str, Any]]) -> dict[str, Any]:
    sessions = summarise_sessions(sessionise(frame(spark, rows), inactivity_minutes=30))
    assert sessions.columns == [f.name for f in spark_schema(WebSession).fields]
    collected = sessions.collect()
    assert len(collected) == 1
    return collected[0].asDict()


def test_summary_of_a_multi_page_visit_from_a_campaign(spark: SparkSession) -> None:
    rows = [
        event(
            "a",
            0,
            page_path="/landing",
            utm_source="newsletter",
            utm_medium="email",
            utm_campaign="spring",
            referrer_host="mail.google.com",
            referrer_class="email",
            browser="Firefox",
            os="Linux",
            country="FR",
        ),
        event("b", 1.5, event_type="track", event_name="Clicked", country="DE"),
        event("c", 3, page_path="/pricing", device_type="mobile"),
        event("i", 4, event_type="identify"),
    ]

    assert summary(spark, rows) == {
        "session_id": expected_id("v1", T0),
        "visitor_id": "v1",
        "session_date": date(2024, 3, 10),
        "started_at": T0,
        "ended_at": T0 + timedelta(minutes=3),
        "duration_seconds": 180.0,
        "events": 3,
        "page_views": 2,
        "landing_path": "/landing",
        "exit_path": "/pricing",
        "is_bounce": False,
        "source": "newsletter",
        "medium": "email",
        "campaign": "spring",
        "referrer_host": "mail.google.com",
        "device_type": "desktop",
        "browser": "Firefox",
        "os": "Linux",
        "country": "FR",
        "subject_key": None,
    }


def test_single_page_view_from_a_referrer_is_a_bounce(spark: SparkSession) -> None:
    row = summary(
        spark,
        [event("a", 0, page_path="/blog", referrer_host="news.ycombinator.com", referrer_class="other")],
    )

    assert (row["is_bounce"], row["page_views"], row["events"], row["duration_seconds"]) == (True, 1, 1, 0.0)
    assert (row["source"], row["medium"], row["campaign"], row["landing_path"], row["exit_path"]) == (
        "news.ycombinator.com",
        "other",
        "(not set)",
        "/blog",
        "/blog",
    )


def test_page_view_and_a_track_event_is_not_a_bounce_and_direct_visits_have_no_medium(
    spark: SparkSession,
) -> None:
    row = summary(spark, [event("a", 0, page_path="/"), event("b", 1, event_type="track")])

    assert (row["is_bounce"], row["source"], row["medium"], row["referrer_host"]) == (
        False,
        "(direct)",
        "(none)",
        None,
    )
