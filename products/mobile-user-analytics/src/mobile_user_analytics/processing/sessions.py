"""App sessions: which events form a period of use, one summary row per session, and the
screen views of each session with the screens around them.

A session ends after ``inactivity_minutes`` without events. Time in background is inactivity:
once the app is backgrounded, events sent from the background (fetches, push handling) do not
keep the session alive, so the session ends when the background period passes the limit, and
the Backgrounded event (with any background events inside the limit) is its last. An app
relaunched after a crash starts a new session whatever the gap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from lakehouse_events.sessions import assign_sessions
from mobile_user_analytics.contracts import AppSession, MobileEvent, ScreenView

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: Event types that are part of a session; identify, alias and group describe the user instead.
SESSION_EVENT_TYPES = ("track", "screen", "page")
#: Lifecycle events that change the app's state: foreground, background, gone.
_STATE_CHANGES = ("opened", "backgrounded", "crashed")
UNNAMED_SCREEN = "(not set)"
"""The screen name of a screen call that carries none."""
_ORDER = ("event_ts", "event_id")


def _micros_between(earlier: Column, later: Column) -> Column:
    from pyspark.sql import functions as F

    return F.unix_micros(later) - F.unix_micros(earlier)


def _starts_by_app_state(inactivity: timedelta) -> Column:
    """True for the event that ends a long background period (the first event more than
    ``inactivity`` after the Backgrounded event, with no Opened in between) and for an
    Application Opened whose previous state change was a crash."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lifecycle = F.col("lifecycle")
    ordered = Window.partitionBy("device_key").orderBy(*_ORDER)
    earlier = ordered.rowsBetween(Window.unboundedPreceding, -1)
    change = F.when(
        lifecycle.isin(*_STATE_CHANGES), F.struct(lifecycle.alias("state"), F.col("event_ts").alias("at"))
    )
    last_change = F.last(change, ignorenulls=True).over(earlier)
    limit = F.lit(int(inactivity.total_seconds() * 1_000_000))
    in_background = last_change["state"] == "backgrounded"
    background_expires = (
        in_background
        & (_micros_between(last_change["at"], F.col("event_ts")) > limit)
        & (_micros_between(last_change["at"], F.lag("event_ts").over(ordered)) <= limit)
    )
    relaunch_after_crash = (lifecycle == "opened") & (last_change["state"] == "crashed")
    return background_expires | relaunch_after_crash


def sessionise(events: DataFrame, *, inactivity_minutes: int) -> DataFrame:
    """:class:`MobileEvent` rows with ``session_id`` set for track, screen and page calls (pure).

    Sessions are per ``device_key`` and run across midnight. The input must hold every event
    of the affected devices back to their last quiet gap, or sessions are cut short.
    """
    from pyspark.sql import functions as F

    inactivity = timedelta(minutes=inactivity_minutes)
    in_session = F.col("event_type").isin(*SESSION_EVENT_TYPES)
    sessionised = assign_sessions(
        events.filter(in_session).withColumn("_starts", _starts_by_app_state(inactivity)),
        visitor_col="device_key",
        ts_col="event_ts",
        inactivity=inactivity,
        starts_new_session=F.col("_starts"),
        tie_breakers=("event_id",),
    ).drop("_starts")
    outside = events.filter(~in_session | F.col("event_type").isNull()).withColumn(
        "session_id", F.lit(None).cast("string")
    )
    return conform(sessionised.unionByName(outside), MobileEvent)


def summarise_sessions(events_with_sessions: DataFrame) -> DataFrame:
    """One :class:`AppSession` row per session id (pure).

    App version, platform and OS version come from the session's first event, so an update
    mid-session leaves the session on the version it started with; the user is the first one
    the session identifies (its ``user_key`` and ``subject_key``).
    """
    from pyspark.sql import functions as F

    first = F.min(F.struct(*_ORDER, "app_version", "platform", "os_version"))
    first_user = F.min(F.when(F.col("user_key").isNotNull(), F.struct(*_ORDER, "user_key", "subject_key")))
    summary = (
        events_with_sessions.filter(F.col("session_id").isNotNull())
        .groupBy("session_id", "device_key")
        .agg(
            F.min("event_ts").alias("started_at"),
            F.max("event_ts").alias("ended_at"),
            F.count(F.lit(1)).alias("events"),
            F.count_if(F.col("event_type") == "screen").alias("screen_views"),
            (F.count_if(F.col("lifecycle") == "crashed") > 0).alias("crashed"),
            first.alias("first"),
            first_user["user_key"].alias("user_key"),
            first_user["subject_key"].alias("subject_key"),
        )
    )
    return conform(
        summary.select(
            "*",
            F.to_date("started_at").alias("session_date"),
            (_micros_between(F.col("started_at"), F.col("ended_at")) / 1_000_000).alias("duration_seconds"),
            F.col("first")["app_version"].alias("app_version"),
            F.col("first")["platform"].alias("platform"),
            F.col("first")["os_version"].alias("os_version"),
        ),
        AppSession,
    )


def screen_views(events_with_sessions: DataFrame) -> DataFrame:
    """One :class:`ScreenView` row per screen call in a session (pure).

    Previous and next screen are the neighbouring screen calls of the same session, ordered by
    ``(event_ts, event_id)``. The time on screen runs until the session's next screen call or
    app state change (opened, backgrounded, crashed), whichever comes first: events tracked on
    the screen (``Product Viewed``) do not end it. It is NULL when nothing of the kind follows.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    in_session = Window.partitionBy("session_id").orderBy(*_ORDER)
    later_in_session = in_session.rowsBetween(1, Window.unboundedFollowing)
    ends_a_screen = (F.col("event_type") == "screen") | F.col("lifecycle").isin(*_STATE_CHANGES)
    screens = (
        events_with_sessions.filter(F.col("session_id").isNotNull())
        .withColumn("_screen_ends_at", F.min(F.when(ends_a_screen, F.col("event_ts"))).over(later_in_session))
        .filter(F.col("event_type") == "screen")
        .withColumn("screen_name", F.coalesce(F.col("screen_name"), F.lit(UNNAMED_SCREEN)))
    )
    return conform(
        screens.select(
            "*",
            F.col("event_ts").alias("viewed_at"),
            F.lag("screen_name").over(in_session).alias("previous_screen"),
            F.lead("screen_name").over(in_session).alias("next_screen"),
            (_micros_between(F.col("event_ts"), F.col("_screen_ends_at")) / 1_000_000).alias(
                "seconds_on_screen"
            ),
        ),
        ScreenView,
    )
