"""Web sessions: which events form a visit, and one summary row per visit."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from lakehouse_events.sessions import assign_sessions
from web_user_analytics.contracts import WebEvent, WebSession

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: Event types that are part of a visit; identify, alias and group describe the user instead.
SESSION_EVENT_TYPES = ("page", "track", "screen")
_UTM_KEY_COLUMNS = ("utm_source", "utm_medium", "utm_campaign")


def _campaign_key() -> Column:
    """The campaign an event carries, or NULL when it carries none."""
    from pyspark.sql import functions as F

    carried = F.coalesce(*[F.col(c) for c in _UTM_KEY_COLUMNS]).isNotNull()
    return F.when(carried, F.to_json(F.struct(*[F.col(c) for c in _UTM_KEY_COLUMNS])))


def sessionise(events: DataFrame, *, inactivity_minutes: int) -> DataFrame:
    """Silver events with ``session_id`` set for page, track and screen events (pure).

    A visit ends after ``inactivity_minutes`` without events, and a new one starts when an event
    carries a campaign (``utm_source``/``utm_medium``/``utm_campaign``) different from the last
    campaign the visitor arrived with. Sessions run across midnight. The input must hold every
    event of the affected visitors back to their last quiet gap, or sessions are cut short.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    in_visit = F.col("event_type").isin(*SESSION_EVENT_TYPES)
    earlier = (
        Window.partitionBy("visitor_id")
        .orderBy("event_ts", "event_id")
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    campaign = F.col("_campaign")
    last_campaign = F.last(campaign, ignorenulls=True).over(earlier)
    sessionised = assign_sessions(
        events.filter(in_visit).withColumn("_campaign", _campaign_key()),
        visitor_col="visitor_id",
        ts_col="event_ts",
        inactivity=timedelta(minutes=inactivity_minutes),
        starts_new_session=campaign.isNotNull() & ~last_campaign.eqNullSafe(campaign),
        tie_breakers=("event_id",),
    ).drop("_campaign")
    outside = events.filter(~in_visit | F.col("event_type").isNull()).withColumn(
        "session_id", F.lit(None).cast("string")
    )
    return conform(sessionised.unionByName(outside), WebEvent)


def summarise_sessions(events_with_sessions: DataFrame) -> DataFrame:
    """One :class:`WebSession` row per session id (pure).

    Source, medium, campaign, referrer, device, browser, OS and country come from the session's
    first event; landing and exit paths from its first and last page view. The subject key is
    the visitor's (a visitor id with a user id is keyed from it, so its events share one).
    """
    from pyspark.sql import functions as F

    is_page = F.col("event_type") == "page"
    first = F.min(
        F.struct(
            "event_ts",
            "event_id",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "referrer_host",
            "referrer_class",
            "device_type",
            "browser",
            "os",
            "country",
        )
    ).alias("first")
    page_view = F.when(is_page, F.struct("event_ts", "event_id", "page_path"))
    summary = (
        events_with_sessions.filter(F.col("session_id").isNotNull())
        .groupBy("session_id", "visitor_id")
        .agg(
            F.min("event_ts").alias("started_at"),
            F.max("event_ts").alias("ended_at"),
            F.count(F.lit(1)).alias("events"),
            F.sum(is_page.cast("long")).alias("page_views"),
            F.min(page_view)["page_path"].alias("landing_path"),
            F.max(page_view)["page_path"].alias("exit_path"),
            F.max("subject_key").alias("subject_key"),
            first,
        )
    )
    origin = F.col("first")
    medium_by_referrer = F.when(origin["referrer_class"] == "direct", F.lit("(none)")).otherwise(
        origin["referrer_class"]
    )
    return conform(
        summary.select(
            "*",
            F.to_date("started_at").alias("session_date"),
            ((F.unix_micros("ended_at") - F.unix_micros("started_at")) / 1_000_000).alias("duration_seconds"),
            ((F.col("page_views") == 1) & (F.col("events") == 1)).alias("is_bounce"),
            F.coalesce(origin["utm_source"], origin["referrer_host"], F.lit("(direct)")).alias("source"),
            F.coalesce(origin["utm_medium"], medium_by_referrer, F.lit("(none)")).alias("medium"),
            F.coalesce(origin["utm_campaign"], F.lit("(not set)")).alias("campaign"),
            origin["referrer_host"].alias("referrer_host"),
            origin["device_type"].alias("device_type"),
            origin["browser"].alias("browser"),
            origin["os"].alias("os"),
            origin["country"].alias("country"),
        ),
        WebSession,
    )
