"""Person features on a handful of hand-built events, expected values worked out by hand
(docs/METRICS.md defines them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError
from pyspark.sql import SparkSession

from user_segmentation.config import FeatureConfig
from user_segmentation.processing.features import normalised_events, person_features
from user_segmentation.storage.tables import MOBILE, WEB

pytestmark = pytest.mark.unit

AS_OF = date(2026, 3, 31)
ATTRIBUTED = (
    "node_id string, event_ts timestamp, event_date date, platform string, session_key string, "
    "is_activity boolean, is_order boolean, revenue double, person_id string, person_subject_key string, "
    "funnel_step int"
)
FUNNEL = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]


def at(days_before: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, 31, hour, tzinfo=UTC) - timedelta(days=days_before)


def event(
    days_before: int,
    platform: str,
    session: str | None,
    *,
    order: float | None = None,
    activity: bool = True,
    step: int = 0,
    person: str = "p1",
):  # type: ignore[no-untyped-def]
    ts = at(days_before)
    return ("n", ts, ts.date(), platform, session, activity, order is not None, order, person, "k1", step)


def test_features_count_the_windows_ending_on_the_day(spark: SparkSession) -> None:
    events = spark.createDataFrame(
        [
            event(0, "web", "web:s1"),
            event(0, "web", "web:s1", order=20.0),
            event(0, "web", None, activity=False),
            event(3, "ios", "mob:s2"),
            event(10, "ios", "mob:s3", order=5.5),
            event(40, "android", "mob:s4"),
            event(100, "web", "web:s5"),
            event(-1, "web", "web:s6"),
        ],
        ATTRIBUTED,
    )

    row = person_features(events, as_of=AS_OF).collect()[0].asDict()

    assert row == {
        "as_of": AS_OF,
        "person_id": "p1",
        "subject_key": "k1",
        "first_seen_at": at(100).replace(tzinfo=None),
        "last_seen_at": at(0).replace(tzinfo=None),
        "recency_days": 0,
        "frequency_7d": 3,
        "frequency_30d": 4,
        "frequency_90d": 5,
        "sessions_7d": 2,
        "sessions_30d": 3,
        "sessions_90d": 4,
        "active_days_7d": 2,
        "active_days_30d": 3,
        "active_days_90d": 4,
        "orders_90d": 2,
        "monetary_90d": 25.5,
        "platforms_90d": ["android", "ios", "web"],
        "last_seen_web": at(0).replace(tzinfo=None),
        "last_seen_ios": at(3).replace(tzinfo=None),
        "last_seen_android": at(40).replace(tzinfo=None),
        "funnel_stage_90d": 0,
        "country": None,
        "plan": None,
        "signup_date": None,
        "order_value": None,
        "payments_90d": None,
    }


def test_funnel_stage_is_the_furthest_step_in_the_90_days(spark: SparkSession) -> None:
    events = spark.createDataFrame(
        [
            event(0, "web", "s1", step=1),
            event(5, "web", "s1", step=3),
            event(100, "web", "s2", step=4),
            event(-1, "web", "s3", step=4),
            event(1, "ios", "s4", person="p2"),
            event(89, "ios", "s5", step=2, person="p3"),
        ],
        ATTRIBUTED,
    )

    found = {r["person_id"]: r["funnel_stage_90d"] for r in person_features(events, as_of=AS_OF).collect()}

    assert found == {"p1": 3, "p2": 0, "p3": 2}


def test_funnel_steps_are_track_events_named_in_the_funnel(spark: SparkSession) -> None:
    ts = at(0)
    web = spark.createDataFrame(
        [
            ("track", "Checkout Started", ts, ts.date(), "s1", None, "a1", None),
            ("track", "Order Completed", ts, ts.date(), "s1", None, "a2", None),
            ("page", "Product Viewed", ts, ts.date(), "s1", None, "a3", None),
            ("track", "Clicked", ts, ts.date(), "s1", None, "a4", None),
        ],
        "event_type string, event_name string, event_ts timestamp, event_date date, session_id string, "
        "properties_json string, anonymous_id string, subject_key string",
    )

    steps = {
        r["node_id"].rsplit(":", 1)[1]: r["funnel_step"]
        for r in normalised_events(web, WEB, order_event="Order Completed", funnel=FUNNEL).collect()
    }

    assert steps == {"a1": 3, "a2": 4, "a3": 0, "a4": 0}


@pytest.mark.parametrize(
    ("funnel", "message"),
    [([], "the funnel is empty"), (["A", "B", "A"], "names 'A' more than once"), (["A", " "], "blank")],
)
def test_a_funnel_must_name_distinct_steps(funnel: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FeatureConfig(funnel=funnel)


def test_a_day_before_the_events_has_no_row_and_recency_counts_back_from_the_day(spark: SparkSession) -> None:
    events = spark.createDataFrame([event(5, "web", "web:s1")], ATTRIBUTED)

    assert person_features(events, as_of=AS_OF - timedelta(days=6)).count() == 0
    assert person_features(events, as_of=AS_OF).collect()[0]["recency_days"] == 5


def test_silver_events_become_person_events_with_their_node_platform_and_revenue(spark: SparkSession) -> None:
    ts = at(0)
    web = spark.createDataFrame(
        [
            ("track", "Order Completed", ts, ts.date(), "s1", '{"revenue": 12.5}', "anon1", "k1"),
            ("page", "Home", ts, ts.date(), "s1", None, "anon2", None),
            ("track", "Clicked", ts, ts.date(), None, None, None, None),
        ],
        "event_type string, event_name string, event_ts timestamp, event_date date, session_id string, "
        "properties_json string, anonymous_id string, subject_key string",
    )
    mobile = spark.createDataFrame(
        [("screen", "Home", ts, ts.date(), "s9", None, "dev1", None, "android")],
        "event_type string, event_name string, event_ts timestamp, event_date date, session_id string, "
        "properties_json string, device_key string, subject_key string, platform string",
    )

    found = [
        (r["node_id"], r["platform"], r["session_key"], r["is_activity"], r["is_order"], r["revenue"])
        for r in normalised_events(web, WEB, order_event="Order Completed")
        .unionByName(normalised_events(mobile, MOBILE, order_event="Order Completed"))
        .collect()
    ]
    assert sorted(found) == [
        ("mobile-user-analytics:device_id:dev1", "android", "mobile-user-analytics:s9", True, False, None),
        ("subject:k1", "web", "web-user-analytics:s1", True, True, 12.5),
        ("web-user-analytics:pseudonymous_id:anon2", "web", "web-user-analytics:s1", True, False, None),
    ]
