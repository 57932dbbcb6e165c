"""Gold transforms on a hand-built day and a half of traffic, expected rows computed by hand.

Traffic (D1 = Monday 2024-03-04, D2 = the day after):

- s1  v1  D1 10:00-10:05  desktop DE  google/organic  pages / → /pricing → /signup, with
      "Signed Up" tracked at 10:02, before /signup (out of order for the signup funnel)
- s2  v1  D1 23:50 → D2 00:20 (crosses midnight)  desktop DE  direct  pages /pricing, / and
      the whole checkout funnel after midnight
- s3  v2  D1 12:00  mobile, no country  newsletter/email/spring  one page view: a bounce
- s4  v3  D2 09:00-09:10  mobile FR  direct  pages / → /signup, "Product Added" alone, then an
      identify call outside any session
- s5  b1  D1  a bot session with page views on / and /pricing: it must vanish everywhere
- v4 only sends an identify call on D2 and has no session
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.contracts import spark_schema
from web_user_analytics.contracts import (
    Acquisition,
    DailyTraffic,
    FunnelStep,
    PageStats,
    RetentionCohort,
    UserDimension,
    VisitorDay,
    WebEvent,
    WebSession,
)
from web_user_analytics.processing.gold import (
    acquisition,
    affected_dates,
    cohort_week,
    complete_histories,
    context_dates,
    daily_traffic,
    funnel_steps,
    page_stats,
    retention_cohorts,
    retention_input_start,
    user_dimension,
    users_from_days,
    visitor_days,
)

pytestmark = pytest.mark.unit

D1 = date(2024, 3, 4)
D2 = date(2024, 3, 5)
FUNNELS = (
    ("signup", ("/", "/pricing", "/signup", "Signed Up")),
    ("checkout", ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")),
)


#: The visitors whose events name a user: their subject key (the others are anonymous).
SUBJECTS = {"v1": "subject-of-v1"}


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def frame(spark: SparkSession, model: type[BaseModel], rows: list[dict[str, Any]]) -> DataFrame:
    schema = spark_schema(model)
    return spark.createDataFrame([tuple(row.get(f.name) for f in schema.fields) for row in rows], schema)


def event(
    event_id: str,
    visitor_id: str,
    ts: datetime,
    event_type: str,
    *,
    session_id: str | None = None,
    name: str | None = None,
    path: str | None = None,
    bot: bool = False,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": event_type,
        "event_name": name,
        "visitor_id": visitor_id,
        "event_ts": ts,
        "received_at": ts,
        "event_date": ts.date(),
        "session_id": session_id,
        "page_url": None if path is None else f"https://shop.example{path}",
        "page_host": None if path is None else "shop.example",
        "page_path": path,
        "page_query": None,
        "page_title": None,
        "referrer_host": None,
        "referrer_class": "direct",
        "utm_source": None,
        "utm_medium": None,
        "utm_campaign": None,
        "utm_term": None,
        "utm_content": None,
        "browser": "Chrome",
        "os": "Linux",
        "device_type": "bot" if bot else "desktop",
        "is_bot": bot,
        "ip_truncated": "192.0.2.0",
        "country": "DE",
        "properties_json": None,
        "traits_json": None,
        "imported": False,
        "source_partition": 0,
        "source_offset": 0,
        "subject_key": SUBJECTS.get(visitor_id),
    }


def session(
    session_id: str,
    visitor_id: str,
    started_at: datetime,
    ended_at: datetime,
    *,
    page_views: int = 1,
    is_bounce: bool = False,
    device_type: str = "desktop",
    country: str | None = "DE",
    source: str = "(direct)",
    medium: str = "(none)",
    campaign: str = "(not set)",
    referrer_host: str | None = None,
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "visitor_id": visitor_id,
        "session_date": started_at.date(),
        "started_at": started_at,
        "ended_at": ended_at,
        "duration_seconds": (ended_at - started_at).total_seconds(),
        "events": page_views,
        "page_views": page_views,
        "landing_path": None,
        "exit_path": None,
        "is_bounce": is_bounce,
        "source": source,
        "medium": medium,
        "campaign": campaign,
        "referrer_host": referrer_host,
        "device_type": device_type,
        "browser": "Chrome",
        "os": "Linux",
        "country": country,
    }


@pytest.fixture(scope="module")
def sessions(spark: SparkSession) -> DataFrame:
    return frame(
        spark,
        WebSession,
        [
            session(
                "s1",
                "v1",
                at(D1, 10, 0),
                at(D1, 10, 5),
                page_views=3,
                source="google",
                medium="organic",
                referrer_host="www.google.com",
            ),
            session("s2", "v1", at(D1, 23, 50), at(D2, 0, 20), page_views=2),
            session(
                "s3",
                "v2",
                at(D1, 12, 0),
                at(D1, 12, 0),
                is_bounce=True,
                device_type="mobile",
                country=None,
                source="newsletter",
                medium="email",
                campaign="spring",
            ),
            session(
                "s4", "v3", at(D2, 9, 0), at(D2, 9, 10), page_views=2, device_type="mobile", country="FR"
            ),
            session("s5", "b1", at(D1, 10, 0), at(D1, 10, 1), page_views=2, device_type="bot"),
        ],
    )


@pytest.fixture(scope="module")
def events(spark: SparkSession) -> DataFrame:
    return frame(
        spark,
        WebEvent,
        [
            event("e01", "v1", at(D1, 10, 0), "page", session_id="s1", path="/"),
            event("e02", "v1", at(D1, 10, 1), "page", session_id="s1", path="/pricing"),
            event("e03", "v1", at(D1, 10, 2), "track", session_id="s1", name="Signed Up"),
            event("e04", "v1", at(D1, 10, 4), "page", session_id="s1", path="/signup"),
            event("e05", "v1", at(D1, 23, 50), "page", session_id="s2", path="/pricing"),
            event("e06", "v1", at(D2, 0, 10), "page", session_id="s2", path="/"),
            event("e07", "v1", at(D2, 0, 12), "track", session_id="s2", name="Product Viewed"),
            event("e08", "v1", at(D2, 0, 14), "track", session_id="s2", name="Product Added"),
            event("e09", "v1", at(D2, 0, 16), "track", session_id="s2", name="Checkout Started"),
            event("e10", "v1", at(D2, 0, 20), "track", session_id="s2", name="Order Completed"),
            event("e11", "v2", at(D1, 12, 0), "page", session_id="s3", path="/pricing"),
            event("e12", "v3", at(D2, 9, 0), "page", session_id="s4", path="/"),
            event("e13", "v3", at(D2, 9, 5), "track", session_id="s4", name="Product Added"),
            event("e14", "v3", at(D2, 9, 10), "page", session_id="s4", path="/signup"),
            event("e15", "v3", at(D2, 9, 20), "identify"),
            event("e16", "b1", at(D1, 10, 0), "page", session_id="s5", path="/", bot=True),
            event("e17", "b1", at(D1, 10, 1), "page", session_id="s5", path="/pricing", bot=True),
            event("e18", "v4", at(D2, 8, 0), "identify"),
        ],
    )


def rows(df: DataFrame) -> list[tuple[Any, ...]]:
    """Collected rows, sorted; timestamps (collected as naive local time) made aware in UTC."""
    return sorted(
        tuple(value.astimezone(UTC) if isinstance(value, datetime) else value for value in row)
        for row in df.collect()
    )


def test_daily_traffic_counts_sessions_on_their_start_day_with_rollups(sessions: DataFrame) -> None:
    traffic = daily_traffic(sessions)

    assert traffic.schema == spark_schema(DailyTraffic)
    assert rows(traffic) == [
        (D1, "all", "DE", 1, 2, 5, 0.0, 1050.0),
        (D1, "all", "all", 2, 3, 6, 1 / 3, 700.0),
        (D1, "all", "unknown", 1, 1, 1, 1.0, 0.0),
        (D1, "desktop", "DE", 1, 2, 5, 0.0, 1050.0),
        (D1, "desktop", "all", 1, 2, 5, 0.0, 1050.0),
        (D1, "mobile", "all", 1, 1, 1, 1.0, 0.0),
        (D1, "mobile", "unknown", 1, 1, 1, 1.0, 0.0),
        (D2, "all", "FR", 1, 1, 2, 0.0, 600.0),
        (D2, "all", "all", 1, 1, 2, 0.0, 600.0),
        (D2, "mobile", "FR", 1, 1, 2, 0.0, 600.0),
        (D2, "mobile", "all", 1, 1, 2, 0.0, 600.0),
    ]


def test_daily_traffic_returns_only_the_requested_dates(sessions: DataFrame) -> None:
    assert rows(daily_traffic(sessions, dates={D2})) == [
        (D2, "all", "FR", 1, 1, 2, 0.0, 600.0),
        (D2, "all", "all", 1, 1, 2, 0.0, 600.0),
        (D2, "mobile", "FR", 1, 1, 2, 0.0, 600.0),
        (D2, "mobile", "all", 1, 1, 2, 0.0, 600.0),
    ]


def test_page_stats_follow_page_views_within_their_session(events: DataFrame) -> None:
    stats = page_stats(events)

    assert stats.schema == spark_schema(PageStats)
    assert rows(stats) == [
        (D1, "/", 1, 1, 1, 0, 60.0),
        (D1, "/pricing", 3, 2, 2, 1, 690.0),
        (D1, "/signup", 1, 1, 0, 1, None),
        (D2, "/", 2, 2, 1, 1, 600.0),
        (D2, "/signup", 1, 1, 0, 1, None),
    ]


def test_page_stats_use_the_context_day_for_a_session_crossing_midnight(events: DataFrame) -> None:
    """e06 on D2 follows e05 on D1 in s2: not an entrance; e05 gets its 1200 s and is no exit."""
    assert rows(page_stats(events, dates={D2})) == [
        (D2, "/", 2, 2, 1, 1, 600.0),
        (D2, "/signup", 1, 1, 0, 1, None),
    ]
    assert rows(page_stats(events, dates={D1})) == [
        (D1, "/", 1, 1, 1, 0, 60.0),
        (D1, "/pricing", 3, 2, 2, 1, 690.0),
        (D1, "/signup", 1, 1, 0, 1, None),
    ]


def test_acquisition_groups_sessions_by_source(sessions: DataFrame) -> None:
    by_source = acquisition(sessions)

    assert by_source.schema == spark_schema(Acquisition)
    assert rows(by_source) == [
        (D1, "(direct)", "(none)", "(not set)", "(none)", 1, 1, 2, 0.0),
        (D1, "google", "organic", "(not set)", "www.google.com", 1, 1, 3, 0.0),
        (D1, "newsletter", "email", "spring", "(none)", 1, 1, 1, 1.0),
        (D2, "(direct)", "(none)", "(not set)", "(none)", 1, 1, 2, 0.0),
    ]


def test_acquisition_returns_only_the_requested_dates(sessions: DataFrame) -> None:
    assert rows(acquisition(sessions, dates={D2})) == [
        (D2, "(direct)", "(none)", "(not set)", "(none)", 1, 1, 2, 0.0),
    ]


def test_funnel_steps_count_steps_reached_in_order(events: DataFrame, sessions: DataFrame) -> None:
    """s1 tracks "Signed Up" before /signup: it reaches step 3, not 4. s2 sees / after /pricing:
    step 1 only for signup, but all of checkout after midnight, counted on D1. s4 adds a product
    it never viewed: checkout stays at zero on D2."""
    steps = funnel_steps(events, sessions, FUNNELS)

    assert steps.schema == spark_schema(FunnelStep)
    assert rows(steps) == [
        (D1, "checkout", 1, "Product Viewed", 1, 1.0, 1.0),
        (D1, "checkout", 2, "Product Added", 1, 1.0, 1.0),
        (D1, "checkout", 3, "Checkout Started", 1, 1.0, 1.0),
        (D1, "checkout", 4, "Order Completed", 1, 1.0, 1.0),
        (D1, "signup", 1, "/", 2, 1.0, 1.0),
        (D1, "signup", 2, "/pricing", 1, 0.5, 0.5),
        (D1, "signup", 3, "/signup", 1, 0.5, 1.0),
        (D1, "signup", 4, "Signed Up", 0, 0.0, 0.0),
        (D2, "checkout", 1, "Product Viewed", 0, 0.0, 0.0),
        (D2, "checkout", 2, "Product Added", 0, 0.0, 0.0),
        (D2, "checkout", 3, "Checkout Started", 0, 0.0, 0.0),
        (D2, "checkout", 4, "Order Completed", 0, 0.0, 0.0),
        (D2, "signup", 1, "/", 1, 1.0, 1.0),
        (D2, "signup", 2, "/pricing", 0, 0.0, 0.0),
        (D2, "signup", 3, "/signup", 0, 0.0, 0.0),
        (D2, "signup", 4, "Signed Up", 0, 0.0, 0.0),
    ]


def test_funnel_steps_return_only_the_requested_dates(events: DataFrame, sessions: DataFrame) -> None:
    assert rows(funnel_steps(events, sessions, FUNNELS[:1], dates={D1})) == [
        (D1, "signup", 1, "/", 2, 1.0, 1.0),
        (D1, "signup", 2, "/pricing", 1, 0.5, 0.5),
        (D1, "signup", 3, "/signup", 1, 0.5, 1.0),
        (D1, "signup", 4, "Signed Up", 0, 0.0, 0.0),
    ]


BROWSE = (("browse", (("/pricing", "Product Added"), "/signup")),)


def test_funnel_step_reached_by_any_alternative(events: DataFrame, sessions: DataFrame) -> None:
    """Step 1 is /pricing or "Product Added": s1, s2, s3 by /pricing on D1, s4 by the product on
    D2. s1 (/pricing 10:01, /signup 10:04) and s4 (product 09:05, /signup 09:10) reach step 2."""
    assert rows(funnel_steps(events, sessions, BROWSE)) == [
        (D1, "browse", 1, "/pricing | Product Added", 3, 1.0, 1.0),
        (D1, "browse", 2, "/signup", 1, 1 / 3, 1 / 3),
        (D2, "browse", 1, "/pricing | Product Added", 1, 1.0, 1.0),
        (D2, "browse", 2, "/signup", 1, 1.0, 1.0),
    ]


def test_funnel_window_counts_later_steps_only_soon_enough_after_step_one(
    events: DataFrame, sessions: DataFrame
) -> None:
    """Within 4 minutes of step 1: s1's /signup (3 minutes) counts, s4's (5 minutes) does not;
    the window's end is inclusive, so 5 minutes keeps s4."""
    four = funnel_steps(events, sessions, BROWSE, windows={"browse": timedelta(minutes=4)})
    five = funnel_steps(events, sessions, BROWSE, windows={"browse": timedelta(minutes=5)})

    assert [(r[0], r[4]) for r in rows(four) if r[2] == 2] == [(D1, 1), (D2, 0)]
    assert [(r[0], r[4]) for r in rows(five) if r[2] == 2] == [(D1, 1), (D2, 1)]


def test_funnel_steps_without_funnels_is_empty_with_the_contract_schema(
    events: DataFrame, sessions: DataFrame
) -> None:
    steps = funnel_steps(events, sessions, [])

    assert steps.schema == spark_schema(FunnelStep)
    assert steps.collect() == []


def test_user_dimension_summarises_each_visitor(events: DataFrame, sessions: DataFrame) -> None:
    users = user_dimension(events, sessions)

    assert users.schema == spark_schema(UserDimension)
    assert rows(users) == [
        ("v1", at(D1, 10, 0), at(D2, 0, 20), 2, 10, 5, "google", "organic", "(not set)", "subject-of-v1"),
        ("v2", at(D1, 12, 0), at(D1, 12, 0), 1, 1, 1, "newsletter", "email", "spring", None),
        ("v3", at(D2, 9, 0), at(D2, 9, 20), 1, 4, 2, "(direct)", "(none)", "(not set)", None),
        ("v4", at(D2, 8, 0), at(D2, 8, 0), 0, 1, 0, "(direct)", "(none)", "(not set)", None),
    ]


def test_visitor_days_count_events_on_their_day_and_sessions_on_their_start_day(
    events: DataFrame, sessions: DataFrame
) -> None:
    """s2 starts on D1 and runs into D2: D1 counts the session, D2 the five events after midnight.
    v3's identify call counts on D2; v4 has a day without a session; the bot b1 has no day."""
    days = visitor_days(events, sessions)

    no_session = (0, None, None, None, None, None)
    google, newsletter, direct = (
        ("google", "organic", "(not set)"),
        ("newsletter", "email", "spring"),
        ("(direct)", "(none)", "(not set)"),
    )
    assert days.schema == spark_schema(VisitorDay)
    assert rows(days) == [
        ("v1", D1, 5, 4, at(D1, 10, 0), at(D1, 23, 50), 2, at(D1, 10, 0), "s1", *google, "subject-of-v1"),
        ("v1", D2, 5, 1, at(D2, 0, 10), at(D2, 0, 20), *no_session, "subject-of-v1"),
        ("v2", D1, 1, 1, at(D1, 12, 0), at(D1, 12, 0), 1, at(D1, 12, 0), "s3", *newsletter, None),
        ("v3", D2, 4, 2, at(D2, 9, 0), at(D2, 9, 20), 1, at(D2, 9, 0), "s4", *direct, None),
        ("v4", D2, 1, 0, at(D2, 8, 0), at(D2, 8, 0), *no_session, None),
    ]


@pytest.fixture(scope="module")
def edge_cases(spark: SparkSession, events: DataFrame, sessions: DataFrame) -> tuple[DataFrame, DataFrame]:
    """The fixture traffic and, on D1 and D2:

    - t1: two sessions starting at the same instant on D1; the first by ``session_id`` (t1-a)
      has the source that sorts last; a later session on D2
    - t2: human events, but its only session is a bot's: 0 sessions
    - t3: a session starting on D1 whose only human events lie on D2
    - t4: only bot events, and a human session: no row in the user dimension
    - t5: two events at the same instant, one an alias call, one a group call
    """
    more_sessions = [
        session("t1-b", "t1", at(D1, 8, 0), at(D1, 8, 30), source="alpha"),
        session("t1-a", "t1", at(D1, 8, 0), at(D1, 8, 10), source="zeta", medium="cpc", campaign="c"),
        session("t1-c", "t1", at(D2, 7, 0), at(D2, 7, 5), source="early"),
        session("t2-s", "t2", at(D1, 9, 0), at(D1, 9, 0), device_type="bot"),
        session("t3-s", "t3", at(D1, 23, 0), at(D2, 1, 0), source="late"),
        session("t4-s", "t4", at(D2, 5, 0), at(D2, 5, 0)),
    ]
    more_events = [
        event("f01", "t1", at(D1, 8, 0), "page", session_id="t1-a", path="/"),
        event("f02", "t1", at(D1, 8, 0), "page", session_id="t1-b", path="/pricing"),
        event("f03", "t1", at(D2, 7, 0), "track", session_id="t1-c", name="Signed Up"),
        event("f04", "t2", at(D1, 9, 0), "page", session_id="t2-s", path="/"),
        event("f05", "t3", at(D1, 23, 0), "page", session_id="t3-s", path="/", bot=True),
        event("f06", "t3", at(D2, 1, 0), "page", session_id="t3-s", path="/signup"),
        event("f07", "t4", at(D2, 5, 0), "page", session_id="t4-s", path="/", bot=True),
        event("f08", "t5", at(D2, 6, 0), "alias"),
        event("f09", "t5", at(D2, 6, 0), "group"),
    ]
    return (
        events.unionByName(frame(spark, WebEvent, more_events)),
        sessions.unionByName(frame(spark, WebSession, more_sessions)),
    )


def test_user_dimension_summed_from_visitor_days_computed_day_by_day_equals_the_definition(
    edge_cases: tuple[DataFrame, DataFrame],
) -> None:
    """Each day's rows from that day's context only, as the gold job reads silver; summed, they
    give the user dimension of the whole history."""
    events, sessions = edge_cases
    by_day = [
        visitor_days(
            events.where(events.event_date.isin(sorted(context_dates({day})))),
            sessions.where(sessions.session_date.isin(sorted(context_dates({day})))),
            {day},
        )
        for day in (D1, D2)
    ]
    days = by_day[0].unionByName(by_day[1])

    assert rows(days) == rows(visitor_days(events, sessions))
    users = users_from_days(days)
    assert users.schema == spark_schema(UserDimension)
    assert rows(users) == rows(user_dimension(events, sessions))
    assert {r[0]: r[1:] for r in rows(users) if r[0].startswith("t")} == {
        "t1": (at(D1, 8, 0), at(D2, 7, 0), 3, 3, 2, "zeta", "cpc", "c", None),
        "t2": (at(D1, 9, 0), at(D1, 9, 0), 0, 1, 1, "(direct)", "(none)", "(not set)", None),
        "t3": (at(D2, 1, 0), at(D2, 1, 0), 1, 1, 1, "late", "(none)", "(not set)", None),
        "t5": (at(D2, 6, 0), at(D2, 6, 0), 0, 2, 0, "(direct)", "(none)", "(not set)", None),
    }


W1, W2, W3 = date(2024, 3, 4), date(2024, 3, 11), date(2024, 3, 18)


@pytest.fixture(scope="module")
def history(spark: SparkSession) -> DataFrame:
    """a: W1 and W3 (a gap week); b: Sunday of W1 only; c: W2 and W3; d: W3; z: a bot in W1."""
    visits = [
        ("a1", "a", date(2024, 3, 4)),
        ("a2", "a", date(2024, 3, 6)),
        ("a3", "a", date(2024, 3, 20)),
        ("b1", "b", date(2024, 3, 10)),
        ("c1", "c", date(2024, 3, 11)),
        ("c2", "c", date(2024, 3, 19)),
        ("d1", "d", date(2024, 3, 24)),
    ]
    rows_ = [session(sid, visitor, at(day, 12, 0), at(day, 12, 1)) for sid, visitor, day in visits]
    rows_.append(session("z1", "z", at(W1, 12, 0), at(W1, 12, 1), device_type="bot"))
    return frame(spark, WebSession, rows_)


def test_retention_cohorts_include_gap_weeks_as_zero(history: DataFrame) -> None:
    cohorts = retention_cohorts(history)

    assert cohorts.schema == spark_schema(RetentionCohort)
    assert rows(cohorts) == [
        (W1, 0, 2, 2, 1.0),
        (W1, 1, 2, 0, 0.0),
        (W1, 2, 2, 1, 0.5),
        (W2, 0, 1, 1, 1.0),
        (W2, 1, 1, 1, 1.0),
        (W3, 0, 1, 1, 1.0),
    ]


def test_retention_cohorts_return_only_the_requested_cohort_weeks(history: DataFrame) -> None:
    assert rows(retention_cohorts(history, cohort_weeks={date(2024, 3, 13)})) == [
        (W2, 0, 1, 1, 1.0),
        (W2, 1, 1, 1, 1.0),
    ]


def test_complete_histories_keep_visitors_whose_every_session_is_in_the_window(
    spark: SparkSession, history: DataFrame
) -> None:
    """Sessions since W2: a has 1 of its 3 there (cohort W1), c and d all theirs; the bot z has no
    count. Cohorts W2 and W3 come out as from the whole history."""
    counts = spark.createDataFrame(
        [("a", 3), ("b", 1), ("c", 2), ("d", 1)], "visitor_id string, sessions long"
    )

    since = complete_histories(history.where(f"session_date >= '{W2}'"), counts)

    assert sorted(r[0] for r in since.select("visitor_id").distinct().collect()) == ["c", "d"]
    assert rows(retention_cohorts(since, {W2, W3})) == [
        (W2, 0, 1, 1, 1.0),
        (W2, 1, 1, 1, 1.0),
        (W3, 0, 1, 1, 1.0),
    ]


def test_retention_reads_only_from_the_earliest_affected_week() -> None:
    """A batch touching one day of W3 for a visitor first seen in W2 reads sessions from W2's
    Monday on: W1 and older are never read."""
    assert retention_input_start({date(2024, 3, 20)}, {date(2024, 3, 13)}) == W2
    assert retention_input_start({date(2024, 3, 20)}, set()) == W3
    assert retention_input_start({date(2024, 3, 20)}, {date(2024, 3, 19)}) == W3


def test_cohort_week_is_the_monday_of_the_week() -> None:
    assert cohort_week(date(2024, 3, 4)) == date(2024, 3, 4)
    assert cohort_week(date(2024, 3, 10)) == date(2024, 3, 4)
    assert cohort_week(date(2024, 3, 11)) == date(2024, 3, 11)


def test_affected_and_context_dates_reach_one_day_either_side() -> None:
    changed = {date(2024, 3, 4), date(2024, 3, 10)}
    expected = {
        date(2024, 3, 3),
        date(2024, 3, 4),
        date(2024, 3, 5),
        date(2024, 3, 9),
        date(2024, 3, 10),
        date(2024, 3, 11),
    }

    assert affected_dates(changed) == expected
    assert context_dates(changed) == expected
    assert affected_dates(set()) == set()
