"""Silver → gold: the business aggregates and the visitor dimension, as pure transforms.

Every transform drops bot traffic first (events with ``is_bot``, sessions with device type
``bot``) and returns exactly the columns of its gold contract. A transform that takes ``dates``
returns only the rows of those days (cohort weeks for retention); its input may hold more days
than that, because a session that crosses midnight needs the neighbouring day's events — see
:func:`context_dates`. The definitions are written out in ``docs/METRICS.md``.

Aggregates that Spark types as nullable (``sum``, ``avg``, ratios) are given their value for an
empty input explicitly, so each output column has the contract's nullability as well as its type.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, timedelta
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse_core.aggregation import expand_dates, on_days, ratio, with_all
from lakehouse_core.contracts import conform, spark_schema
from web_user_analytics.contracts import (
    Acquisition,
    DailyTraffic,
    FunnelStep,
    PageStats,
    RetentionCohort,
    UserDimension,
    VisitorDay,
)

UNKNOWN_COUNTRY = "unknown"
NO_REFERRER = "(none)"
NO_PAGE_PATH = "(not set)"
NO_SESSION_SOURCE = "(direct)"
NO_SESSION_MEDIUM = "(none)"
NO_SESSION_CAMPAIGN = "(not set)"
BOT_DEVICE_TYPE = "bot"
CONTEXT_DAYS = 1
"""A session may cross midnight: its events can lie one day after the day it started."""


def cohort_week(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def affected_dates(changed_dates: Collection[date]) -> set[date]:
    """Output days whose gold rows can change when silver rows of ``changed_dates`` change.

    A changed day also changes its neighbours: a session that started the day before can gain
    events on it (traffic, acquisition and funnels count the session on its first day), the
    last page view of the day before gets its time on page and exit from it, and the first page
    view of the day after can stop being an entrance.
    """
    return expand_dates(changed_dates, before=CONTEXT_DAYS, after=CONTEXT_DAYS)


def context_dates(dates: Collection[date]) -> set[date]:
    """Input days to read to compute the gold rows of ``dates``: one day either side."""
    return expand_dates(dates, before=CONTEXT_DAYS, after=CONTEXT_DAYS)


def daily_traffic(sessions: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Sessions per start day by device type and country, with ``'all'`` rollups of both."""
    started = on_days(_human_sessions(sessions), "session_date", dates)
    cells = with_all(
        started.select(
            F.col("session_date").alias("date"),
            "device_type",
            F.coalesce(F.col("country"), F.lit(UNKNOWN_COUNTRY)).alias("country"),
            "visitor_id",
            "page_views",
            "is_bounce",
            "duration_seconds",
        ),
        "device_type",
        "country",
    )
    traffic = cells.groupBy("date", "device_type", "country").agg(
        F.count_distinct("visitor_id").alias("visitors"),
        F.count(F.lit(1)).alias("sessions"),
        F.coalesce(F.sum("page_views"), F.lit(0)).alias("page_views"),
        ratio(F.count_if("is_bounce"), F.count(F.lit(1))).alias("bounce_rate"),
        F.coalesce(F.avg("duration_seconds"), F.lit(0.0)).alias("avg_session_duration_seconds"),
    )
    return conform(traffic, DailyTraffic)


def page_stats(events: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Page views per day and page path, with entrances, exits and time on page.

    A page view without a session is its own one-view session: an entrance and an exit with no
    time on page.
    """
    views = _human_events(events).where(F.col("event_type") == "page")
    session = F.coalesce(F.col("session_id"), F.col("event_id"))
    in_session = Window.partitionBy(session).orderBy("event_ts", "event_id")
    next_view_at = F.lead("event_ts").over(in_session)
    placed = views.select(
        "event_date",
        F.coalesce(F.col("page_path"), F.lit(NO_PAGE_PATH)).alias("page_path"),
        "visitor_id",
        (F.row_number().over(in_session) == 1).alias("is_entrance"),
        next_view_at.isNull().alias("is_exit"),
        (next_view_at.cast("double") - F.col("event_ts").cast("double")).alias("time_on_page"),
    )
    stats = (
        on_days(placed, "event_date", dates)
        .groupBy(F.col("event_date").alias("date"), "page_path")
        .agg(
            F.count(F.lit(1)).alias("views"),
            F.count_distinct("visitor_id").alias("unique_visitors"),
            F.count_if("is_entrance").alias("entrances"),
            F.count_if("is_exit").alias("exits"),
            F.avg("time_on_page").alias("avg_time_on_page_seconds"),
        )
    )
    return conform(stats, PageStats)


def acquisition(sessions: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Sessions per start day by source, medium, campaign and referrer host."""
    started = on_days(_human_sessions(sessions), "session_date", dates)
    by_source = started.groupBy(
        F.col("session_date").alias("date"),
        "source",
        "medium",
        "campaign",
        F.coalesce(F.col("referrer_host"), F.lit(NO_REFERRER)).alias("referrer_host"),
    ).agg(
        F.count(F.lit(1)).alias("sessions"),
        F.count_distinct("visitor_id").alias("visitors"),
        F.coalesce(F.sum("page_views"), F.lit(0)).alias("page_views"),
        ratio(F.count_if("is_bounce"), F.count(F.lit(1))).alias("bounce_rate"),
    )
    return conform(by_source, Acquisition)


Step = str | Sequence[str]
"""A funnel step: a track event name or page path, or a sequence of such alternatives."""


def step_alternatives(step: Step) -> tuple[str, ...]:
    return (step,) if isinstance(step, str) else tuple(step)


def step_name(step: Step) -> str:
    """The ``step_name`` of a step's gold rows: its alternatives joined with `` | ``."""
    return " | ".join(step_alternatives(step))


def funnel_steps(
    events: DataFrame,
    sessions: DataFrame,
    funnels: Sequence[tuple[str, Sequence[Step]]],
    dates: Collection[date] | None = None,
    *,
    windows: Mapping[str, timedelta] | None = None,
) -> DataFrame:
    """Sessions reaching each step of each funnel, per session start day, zeros included.

    ``funnels`` holds ``(name, steps)`` pairs. A step is a track event name or a page path, or
    a sequence of alternatives: any of them reaches the step. A session reaches step k when it
    reached step k-1 and has a matching event at or after the earliest time it reached step k-1;
    that earliest time is carried from step to step, so steps done out of order do not count.
    ``windows`` maps a funnel name to its conversion window: its steps after the first count only
    at most that long after the session's earliest step-1 event (inclusive).
    """
    started = on_days(_human_sessions(sessions), "session_date", dates).select("session_id", "session_date")
    session_events = _human_events(events).join(started.select("session_id"), "session_id")
    days = started.select(F.col("session_date").alias("date")).distinct()
    windows = windows or {}
    counts = [
        _step_counts(session_events, started, days, funnel, steps, window=windows.get(funnel))
        for funnel, steps in funnels
        if steps
    ]
    if not counts:
        return sessions.sparkSession.createDataFrame([], spark_schema(FunnelStep))
    reached = reduce(DataFrame.unionByName, counts)
    in_funnel = Window.partitionBy("date", "funnel")
    started_count = F.max(F.when(F.col("step_index") == 1, F.col("sessions"))).over(in_funnel)
    previous_count = F.coalesce(F.lag("sessions").over(in_funnel.orderBy("step_index")), F.col("sessions"))
    converted = reached.withColumns(
        {
            "conversion_from_start": ratio(F.col("sessions"), started_count),
            "conversion_from_previous": ratio(F.col("sessions"), previous_count),
        }
    )
    return conform(converted, FunnelStep)


def retention_cohorts(sessions: DataFrame, cohort_weeks: Collection[date] | None = None) -> DataFrame:
    """Weekly cohorts of new visitors and how many of them came back each later week.

    ``sessions`` must hold the whole session history of the visitors concerned: a visitor's
    cohort is the week of their first session ever. ``cohort_weeks`` may name any day of a week.
    """
    visitor_weeks = (
        _human_sessions(sessions)
        .select("visitor_id", F.date_sub("session_date", F.weekday("session_date")).alias("week"))
        .distinct()
    )
    first_week = Window.partitionBy("visitor_id").orderBy("week")
    cohorts = (
        visitor_weeks.withColumn("position", F.row_number().over(first_week))
        .where(F.col("position") == 1)
        .select("visitor_id", F.col("week").alias("cohort_week"))
    )
    if cohort_weeks is not None:
        cohorts = cohorts.where(F.col("cohort_week").isin(sorted({cohort_week(d) for d in cohort_weeks})))
    returns = visitor_weeks.join(cohorts, "visitor_id").select(
        "visitor_id",
        "cohort_week",
        (F.datediff("week", "cohort_week") / 7).cast("long").alias("week_offset"),
    )
    retained = returns.groupBy("cohort_week", "week_offset").agg(
        F.count_distinct("visitor_id").alias("retained_visitors")
    )
    sizes = cohorts.groupBy("cohort_week").agg(
        F.count_distinct("visitor_id").alias("cohort_size"),
    )
    offsets = (
        returns.groupBy("cohort_week")
        .agg(F.max("week_offset").alias("last_offset"))
        .select(
            "cohort_week", F.explode(F.sequence(F.lit(0).cast("long"), "last_offset")).alias("week_offset")
        )
    )
    table = (
        offsets.join(sizes, "cohort_week")
        .join(retained, ["cohort_week", "week_offset"], "left")
        .withColumn("retained_visitors", F.coalesce(F.col("retained_visitors"), F.lit(0)))
        .withColumn("retention_rate", ratio(F.col("retained_visitors"), F.col("cohort_size")))
    )
    return conform(table, RetentionCohort)


def week_of(moment: Column) -> Column:
    """The Monday of the week of a date or timestamp (in the session time zone, as ``session_date``)."""
    day = F.to_date(moment)
    return F.date_sub(day, F.weekday(day))


def retention_input_start(changed_days: Collection[date], first_seen_days: Collection[date]) -> date:
    """The earliest session day the retention recompute of a batch reads.

    The cohorts to recompute are the weeks of the changed days and the cohorts of the touched
    visitors, before and after the batch; none of those lies before the week of a changed day or
    of a touched visitor's ``first_seen`` (a visitor's sessions never start before their first
    event), so sessions before the earliest such Monday are never needed.
    """
    return min(cohort_week(d) for d in (*changed_days, *first_seen_days))


def complete_histories(sessions: DataFrame, session_counts: DataFrame) -> DataFrame:
    """The human sessions of the visitors whose whole session history ``sessions`` holds.

    ``sessions`` holds every session since some day; ``session_counts`` (``visitor_id``,
    ``sessions``, as in the user dimension) each visitor's human sessions ever. A visitor with
    fewer sessions here than ever had one before that day, so belongs to an earlier cohort; the
    others' cohorts and returns are computed from ``sessions`` exactly as from the whole table.
    """
    human = _human_sessions(sessions)
    seen = human.groupBy("visitor_id").agg(F.count(F.lit(1)).alias("seen"))
    complete = seen.join(session_counts, "visitor_id").where(F.col("seen") == F.col("sessions"))
    return human.join(complete.select("visitor_id"), "visitor_id", "left_semi")


def visitor_days(events: DataFrame, sessions: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """One row per visitor and day with non-bot events or a non-bot session starting that day.

    A day's row depends on that day's events (by ``event_date``) and the sessions that started on
    it (by ``session_date``) only, so the inputs need hold no other day than ``dates``. Events
    count whatever their type (identify, alias and group calls too) and whichever day their
    session started; the day's first session is the first by ``(started_at, session_id)``.
    """
    session = F.struct("started_at", "session_id", "source", "medium", "campaign")
    no_session = F.lit(None).cast(sessions.select(session).schema[0].dataType)
    event_rows = on_days(_human_events(events), "event_date", dates).select(
        "visitor_id",
        F.col("event_date").alias("date"),
        F.lit(1).alias("events"),
        F.when(F.col("event_type") == "page", 1).otherwise(0).alias("page_views"),
        "event_ts",
        no_session.alias("session"),
        "subject_key",
    )
    session_rows = on_days(_human_sessions(sessions), "session_date", dates).select(
        "visitor_id",
        F.col("session_date").alias("date"),
        F.lit(0).alias("events"),
        F.lit(0).alias("page_views"),
        F.lit(None).cast("timestamp").alias("event_ts"),
        session.alias("session"),
        "subject_key",
    )
    first = F.col("first")
    days = (
        event_rows.unionByName(session_rows)
        .groupBy("visitor_id", "date")
        .agg(
            F.coalesce(F.sum("events"), F.lit(0)).alias("events"),
            F.coalesce(F.sum("page_views"), F.lit(0)).alias("page_views"),
            F.min("event_ts").alias("first_event_at"),
            F.max("event_ts").alias("last_event_at"),
            F.count("session").alias("sessions"),
            F.min("session").alias("first"),
            F.max("subject_key").alias("subject_key"),
        )
        .select(
            "*",
            first["started_at"].alias("first_session_started_at"),
            first["session_id"].alias("first_session_id"),
            first["source"].alias("first_source"),
            first["medium"].alias("first_medium"),
            first["campaign"].alias("first_campaign"),
        )
    )
    return conform(days, VisitorDay)


def users_from_days(days: DataFrame) -> DataFrame:
    """:func:`user_dimension` of the visitors whose every :func:`visitor_days` row ``days`` holds.

    Sums and extremes of the days; the first session is the earliest of the days' first
    sessions by ``(started_at, session_id)``, as in :func:`user_dimension`, since a session that
    starts earlier starts on the same day or an earlier one. Visitors with no event (only a
    session's day, which real silver never has) are left out, as there. The others have first
    and last event times, so the fallback in ``first_seen``/``last_seen`` is never taken: it
    only gives the columns the contract's nullability.
    """
    first_session = F.min(
        F.when(
            F.col("sessions") > 0,
            F.struct(
                F.col("first_session_started_at").alias("started_at"),
                F.col("first_session_id").alias("session_id"),
                F.col("first_source").alias("source"),
                F.col("first_medium").alias("medium"),
                F.col("first_campaign").alias("campaign"),
            ),
        )
    )
    never = F.timestamp_seconds(F.lit(0))
    users = (
        days.groupBy("visitor_id")
        .agg(
            F.min("first_event_at").alias("_first_seen"),
            F.max("last_event_at").alias("_last_seen"),
            F.coalesce(F.sum("sessions"), F.lit(0)).alias("sessions"),
            F.coalesce(F.sum("events"), F.lit(0)).alias("events"),
            F.coalesce(F.sum("page_views"), F.lit(0)).alias("page_views"),
            first_session.alias("first"),
            F.max("subject_key").alias("subject_key"),
        )
        .where(F.col("_first_seen").isNotNull())
        .select(
            "*",
            F.coalesce(F.col("_first_seen"), never).alias("first_seen"),
            F.coalesce(F.col("_last_seen"), never).alias("last_seen"),
            F.coalesce(F.col("first.source"), F.lit(NO_SESSION_SOURCE)).alias("first_source"),
            F.coalesce(F.col("first.medium"), F.lit(NO_SESSION_MEDIUM)).alias("first_medium"),
            F.coalesce(F.col("first.campaign"), F.lit(NO_SESSION_CAMPAIGN)).alias("first_campaign"),
        )
    )
    return conform(users, UserDimension)


def user_dimension(events: DataFrame, sessions: DataFrame) -> DataFrame:
    """One row per visitor with events: first and last seen, activity counts, first source.

    Both inputs must hold the visitors' whole history. A visitor without a session (only
    identify calls, say) has 0 sessions and the source values of a visit with nothing known:
    ``(direct)``, ``(none)``, ``(not set)``. This is the definition; the gold job computes the
    same rows in two steps, :func:`visitor_days` then :func:`users_from_days`, so that a batch
    reads only the affected days of silver.
    """
    visitor = Window.partitionBy("visitor_id")
    whole_history = visitor.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    ranked_events = _human_events(events).select(
        "visitor_id",
        "event_ts",
        F.row_number().over(visitor.orderBy("event_ts", "event_id")).alias("from_first"),
        F.row_number().over(visitor.orderBy(F.desc("event_ts"), F.desc("event_id"))).alias("from_last"),
        F.count(F.lit(1)).over(whole_history).alias("events"),
        F.count_if(F.col("event_type") == "page").over(whole_history).alias("page_views"),
        F.max("subject_key").over(whole_history).alias("subject_key"),
    )
    first_events = ranked_events.where(F.col("from_first") == 1).select(
        "visitor_id", F.col("event_ts").alias("first_seen"), "events", "page_views", "subject_key"
    )
    last_events = ranked_events.where(F.col("from_last") == 1).select(
        "visitor_id", F.col("event_ts").alias("last_seen")
    )
    first_sessions = (
        _human_sessions(sessions)
        .select(
            "visitor_id",
            F.row_number().over(visitor.orderBy("started_at", "session_id")).alias("from_first"),
            F.count(F.lit(1)).over(whole_history).alias("sessions"),
            F.col("source").alias("first_source"),
            F.col("medium").alias("first_medium"),
            F.col("campaign").alias("first_campaign"),
        )
        .where(F.col("from_first") == 1)
        .drop("from_first")
    )
    visitors = (
        first_events.join(last_events, "visitor_id")
        .join(first_sessions, "visitor_id", "left")
        .fillna(
            {
                "sessions": 0,
                "first_source": NO_SESSION_SOURCE,
                "first_medium": NO_SESSION_MEDIUM,
                "first_campaign": NO_SESSION_CAMPAIGN,
            }
        )
    )
    return conform(visitors, UserDimension)


def _step_counts(
    session_events: DataFrame,
    started: DataFrame,
    days: DataFrame,
    funnel: str,
    steps: Sequence[Step],
    *,
    window: timedelta | None,
) -> DataFrame:
    """Per day, the sessions reaching each step of one funnel (one row per day and step)."""
    per_step = []
    reached: DataFrame | None = None
    for step_index, step in enumerate(steps, start=1):
        matches = session_events.where(_matches(step_alternatives(step))).select("session_id", "event_ts")
        if reached is None:
            reached = matches.groupBy("session_id").agg(
                F.min("event_ts").alias("reached_at"), F.min("event_ts").alias("entered_at")
            )
        else:
            matches = matches.join(reached, "session_id").where(F.col("event_ts") >= F.col("reached_at"))
            if window is not None:
                seconds = int(window.total_seconds())
                matches = matches.where(
                    F.col("event_ts") <= F.col("entered_at") + F.make_dt_interval(secs=F.lit(seconds))
                )
            reached = matches.groupBy("session_id", "entered_at").agg(F.min("event_ts").alias("reached_at"))
        per_day = (
            reached.join(started, "session_id")
            .groupBy(F.col("session_date").alias("date"))
            .agg(F.count(F.lit(1)).alias("sessions"))
        )
        per_step.append(
            days.join(per_day, "date", "left").select(
                "date",
                F.lit(funnel).alias("funnel"),
                F.lit(step_index).cast("long").alias("step_index"),
                F.lit(step_name(step)).alias("step_name"),
                F.coalesce(F.col("sessions"), F.lit(0)).alias("sessions"),
            )
        )
    return reduce(DataFrame.unionByName, per_step)


def _matches(alternatives: Sequence[str]) -> Column:
    track = (F.col("event_type") == "track") & F.col("event_name").isin(*alternatives)
    page = (F.col("event_type") == "page") & F.col("page_path").isin(*alternatives)
    return F.coalesce(track | page, F.lit(False))


def _human_events(events: DataFrame) -> DataFrame:
    return events.where(~F.col("is_bot"))


def _human_sessions(sessions: DataFrame) -> DataFrame:
    return sessions.where(F.col("device_type") != BOT_DEVICE_TYPE)
