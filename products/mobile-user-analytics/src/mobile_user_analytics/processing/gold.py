"""Silver → gold: the app's business aggregates and the device dimension, as pure transforms.

Inputs are silver frames with the columns of ``MobileEvent``, ``AppSession`` and ``ScreenView``;
every transform returns exactly the columns of its gold contract. A transform that takes
``dates`` (``install_dates`` for cohorts) returns only the rows of those days; its input may and
sometimes must hold more days: ``active_users`` needs the 29 days before each output day
(:func:`active_users_input_dates`), ``install_cohorts`` the 30 days after each install day
(:func:`retention_input_dates`). The definitions are written out in ``docs/METRICS.md``.

**Activity.** A device is active on a day when it sent an event that belongs to an app session
that day (a track, screen or lifecycle event); identify, alias and group calls describe the user,
not use of the app, and do not make a device active.

Aggregates that Spark types as nullable (``avg``, ``percentile``, ratios, ``max_by``) are given
their value for an empty input explicitly, or are taken from a ranked row, so each output column
has the contract's nullability as well as its type.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse_core.aggregation import expand_dates, latest_non_null, on_days, ratio, with_all
from lakehouse_core.contracts import conform
from mobile_user_analytics.contracts import (
    LIFECYCLE_EVENTS,
    ActiveUsers,
    CrashFree,
    DeviceDay,
    DeviceDimension,
    InstallCohort,
    OsAdoption,
    ScreenStats,
    ScreenTransition,
    SessionStats,
    VersionAdoption,
)

UNKNOWN = "unknown"
"""The name of a missing app or OS version."""
WEEK_DAYS = 7
MONTH_DAYS = 30
ACTIVE_CONTEXT_DAYS = MONTH_DAYS - 1
"""MAU on day d counts the devices active from d - 29 to d."""
RETENTION_DAYS = (1, 7, 30)
COHORT_SESSION_OFFSETS = (-1, 0, *RETENTION_DAYS)
"""Days after its install day on which a changed session of a device can change its cohort."""
INSTALLED = LIFECYCLE_EVENTS["Application Installed"]
CRASHED = LIFECYCLE_EVENTS["Application Crashed"]
LATEST_SEEN = ("device_manufacturer", "device_model", "os_version", "app_version")
"""The device dimension's columns that hold the latest value seen."""


def active_users_input_dates(dates: Collection[date]) -> set[date]:
    """Event days ``active_users`` needs for ``dates``: each day and the 29 days before it."""
    return expand_dates(dates, before=ACTIVE_CONTEXT_DAYS)


def active_users_affected_dates(changed_dates: Collection[date]) -> set[date]:
    """Output days of ``active_users`` that events of ``changed_dates`` count in: each changed
    day and the 29 days after it (whose 30-day window holds it)."""
    return expand_dates(changed_dates, after=ACTIVE_CONTEXT_DAYS)


def retention_input_dates(install_dates: Collection[date]) -> set[date]:
    """Session days ``install_cohorts`` reads for ``install_dates``: day 1, 7 and 30 of each."""
    return {install + timedelta(days=n) for install in install_dates for n in RETENTION_DAYS}


def affected_install_dates(changed: DataFrame, stored: DataFrame, current: DataFrame) -> DataFrame:
    """The install days (column ``install_date``) whose cohorts a batch can change.

    ``changed`` holds the batch's changed sessions (``session_date``, ``device_key``); ``stored``
    the touched devices' ``install_date`` before the batch and ``current`` after it (both keyed
    by ``device_key``). A device whose install day moved changes its old and its new cohort. A
    device that stays in cohort i changes it only through a changed session on day i-1 or i
    (where its install events lie: a new one may change the cohort's platform) or on day 1, 7
    or 30 of i (its returns). No other cohort can change, as no other device's events or
    sessions did: a batch of recent days does not reach the cohorts of old install days.
    """
    before = stored.select("device_key", F.col("install_date").alias("stored"))
    after = current.select("device_key", F.col("install_date").alias("current"))
    devices = before.join(after, "device_key", "full")
    moved = devices.where(~F.col("stored").eqNullSafe(F.col("current"))).select(
        F.explode(F.array("stored", "current")).alias("install_date")
    )
    days_after = F.datediff("session_date", "current")
    kept = (
        devices.where(F.col("stored").eqNullSafe(F.col("current")))
        .join(changed.select("device_key", "session_date"), "device_key")
        .where(days_after.isin(*COHORT_SESSION_OFFSETS))
        .select(F.col("current").alias("install_date"))
    )
    return moved.unionByName(kept).where(F.col("install_date").isNotNull()).distinct()


def first_install_events(events: DataFrame, devices: DataFrame) -> DataFrame:
    """The install events of ``events`` on each device's ``install_date`` in ``devices``.

    ``install_cohorts`` takes a device's first install event; reading only some days' events,
    a reinstall on one of them would look like a first install. Keeping only the events on the
    install day the device dimension holds (the day of the device's first install event) drops
    those, so ``install_cohorts`` of these events equals that of every install event in silver
    for the days read. A device missing from ``devices`` has no install day and is dropped.
    """
    install_days = devices.select(
        F.col("device_key").alias("_device_key"), F.col("install_date").alias("_install_date")
    )
    on_install_day = (F.col("device_key") == F.col("_device_key")) & (
        F.col("event_date") == F.col("_install_date")
    )
    return events.where(F.col("lifecycle") == INSTALLED).join(install_days, on_install_day, "left_semi")


def active_users(events: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Daily, weekly and monthly active devices per platform, with an ``'all'`` platform row.

    For day d: ``dau`` counts the devices active on d, ``wau`` those active on any of the 7 days
    d-6..d, ``mau`` those active on any of the 30 days d-29..d. Without ``dates`` the output days
    are every day from the earliest to the latest event day of the input; a day (and platform)
    has a row when its ``mau`` is above 0, so a day without activity still has one (``dau = 0``)
    while the month before it had some.
    """
    activity = _active_devices(events).select("event_date", "platform", "device_key").distinct()
    covered = activity.select(
        "device_key",
        "platform",
        "event_date",
        F.explode(F.sequence(F.col("event_date"), F.date_add("event_date", ACTIVE_CONTEXT_DAYS))).alias(
            "date"
        ),
    ).withColumn("days_ago", F.datediff("date", "event_date"))
    if dates is None:
        last_day = activity.agg(F.max("event_date").alias("last_day"))
        covered = covered.join(last_day, F.col("date") <= F.col("last_day")).drop("last_day")
    else:
        covered = on_days(covered, "date", dates)
    counts = (
        with_all(covered, "platform")
        .groupBy("date", "platform")
        .agg(
            F.count_distinct(F.when(F.col("days_ago") == 0, F.col("device_key"))).alias("dau"),
            F.count_distinct(F.when(F.col("days_ago") < WEEK_DAYS, F.col("device_key"))).alias("wau"),
            F.count_distinct("device_key").alias("mau"),
        )
        .withColumn("stickiness", ratio(F.col("dau"), F.col("mau")))
    )
    return conform(counts, ActiveUsers)


def session_stats(sessions: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Sessions per start day by platform and app version, with ``'all'`` rollups of both.

    ``median_session_seconds`` is exact: the middle ``duration_seconds`` of the cell's sessions
    in sorted order, the mean of the two middle ones for an even count.
    """
    cells = with_all(_by_version(sessions, dates), "platform", "app_version")
    stats = cells.groupBy("date", "platform", "app_version").agg(
        F.count(F.lit(1)).alias("sessions"),
        F.count_distinct("device_key").alias("devices"),
        ratio(F.count(F.lit(1)), F.count_distinct("device_key")).alias("sessions_per_device"),
        F.coalesce(F.avg("duration_seconds"), F.lit(0.0)).alias("avg_session_seconds"),
        F.coalesce(F.percentile("duration_seconds", 0.5), F.lit(0.0)).alias("median_session_seconds"),
    )
    return conform(stats, SessionStats)


def crash_free(sessions: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Crash-free sessions and devices per start day, platform and app version (no rollups).
    A device is crashed in a row when any of its sessions of that row crashed."""
    started = _by_version(sessions, dates)
    crashed_sessions = F.count_if("crashed")
    crashed_devices = F.count_distinct(F.when(F.col("crashed"), F.col("device_key")))
    stats = started.groupBy("date", "platform", "app_version").agg(
        F.count(F.lit(1)).alias("sessions"),
        crashed_sessions.alias("crashed_sessions"),
        (F.lit(1.0) - ratio(crashed_sessions, F.count(F.lit(1)))).alias("crash_free_sessions"),
        F.count_distinct("device_key").alias("devices"),
        crashed_devices.alias("crashed_devices"),
        (F.lit(1.0) - ratio(crashed_devices, F.count_distinct("device_key"))).alias("crash_free_devices"),
    )
    return conform(stats, CrashFree)


def screen_stats(screen_views: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Views of each screen per day, with the devices, time on screen, entries and exits.

    Silver has already placed every view in its whole session (``previous_screen``,
    ``next_screen``, ``seconds_on_screen``), so a day needs no other day's views.
    """
    stats = (
        on_days(screen_views, "event_date", dates)
        .groupBy(F.col("event_date").alias("date"), "screen_name")
        .agg(
            F.count(F.lit(1)).alias("views"),
            F.count_distinct("device_key").alias("devices"),
            F.avg("seconds_on_screen").alias("avg_seconds_on_screen"),
            F.count_if(F.col("previous_screen").isNull()).alias("entries"),
            F.count_if(F.col("next_screen").isNull()).alias("exits"),
        )
    )
    return conform(stats, ScreenStats)


def screen_transitions(screen_views: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Moves from one screen to the next within a session, counted on the day of the screen
    moved to: each view with a ``previous_screen`` is one move from it to ``screen_name`` (the
    explode of the view's non-null previous screens keeps exactly those views)."""
    pairs = on_days(screen_views, "event_date", dates).select(
        F.col("event_date").alias("date"),
        F.explode(F.array_compact(F.array("previous_screen"))).alias("from_screen"),
        F.col("screen_name").alias("to_screen"),
    )
    moves = pairs.groupBy("date", "from_screen", "to_screen").agg(F.count(F.lit(1)).alias("transitions"))
    return conform(moves, ScreenTransition)


def install_cohorts(
    events: DataFrame, sessions: DataFrame, install_dates: Collection[date] | None = None
) -> DataFrame:
    """Devices per install day and platform, and how many of them had a session exactly 1, 7
    and 30 days after the install day.

    A device's install is its first ``Application Installed`` event (by ``event_ts``, then
    ``event_id``), so ``events`` must hold every install event of the devices concerned; a
    reinstall does not move the device to a later cohort. ``sessions`` must hold the sessions
    of day 1, 7 and 30 of the cohorts (:func:`retention_input_dates`).
    """
    first_install = Window.partitionBy("device_key").orderBy("event_ts", "event_id")
    installs = (
        events.where(F.col("lifecycle") == INSTALLED)
        .select(
            "device_key",
            "platform",
            F.col("event_date").alias("install_date"),
            F.row_number().over(first_install).alias("position"),
        )
        .where(F.col("position") == 1)
        .drop("position")
    )
    installs = on_days(installs, "install_date", install_dates)
    returns = sessions.select("device_key", "session_date").distinct()
    days_after = F.datediff("session_date", "install_date")
    retained = {
        f"retained_d{n}": F.count_distinct(F.when(days_after == n, F.col("device_key")))
        for n in RETENTION_DAYS
    }
    cohorts = (
        installs.join(returns, "device_key", "left")
        .groupBy("install_date", "platform")
        .agg(
            F.count_distinct("device_key").alias("installs"),
            *(count.alias(name) for name, count in retained.items()),
        )
        .withColumns(
            {f"retention_d{n}": ratio(F.col(f"retained_d{n}"), F.col("installs")) for n in RETENTION_DAYS}
        )
    )
    return conform(cohorts, InstallCohort)


def version_adoption(events: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Active devices per day, platform and app version, and their share of the platform."""
    return conform(_adoption(events, dates, "app_version"), VersionAdoption)


def os_adoption(events: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """Active devices per day, platform and OS version, and their share of the platform."""
    return conform(_adoption(events, dates, "os_version"), OsAdoption)


def device_days_dates(changed_days: Collection[date]) -> set[date]:
    """The days whose ``device_days`` rows a batch with sessions changed on ``changed_days``
    rewrites: each changed day and one day either side.

    A day's rows change only with that day's sessions (their day is changed) or events. A new
    event in a session lies on the session's start day or, past midnight, the next; a new event
    outside sessions (identify, alias, group) re-summarises its device's sessions of the day
    before it, its own day and the day after, so when the device has one of those, one of
    them is a changed day.
    """
    return expand_dates(changed_days, before=1, after=1)


def device_days(events: DataFrame, sessions: DataFrame, dates: Collection[date] | None = None) -> DataFrame:
    """One row per device and day with events (by ``event_date``) or a session starting that day
    (by ``session_date``): what :func:`devices_from_days` aggregates into the device dimension.

    A day's row depends on that day's events and sessions only, so the inputs need hold no other
    day than ``dates``. The latest values are those of the day's latest event (by ``event_ts``,
    then ``event_id``), as in :func:`device_dimension`, among the events that have one.
    """
    detail = ("event_ts", "event_id", "lifecycle", "platform", *LATEST_SEEN)
    event_rows = on_days(events, "event_date", dates).select(
        "device_key", F.col("event_date").alias("date"), F.lit(True).alias("is_event"), *detail
    )
    session_rows = on_days(sessions, "session_date", dates).select(
        "device_key",
        F.col("session_date").alias("date"),
        F.lit(False).alias("is_event"),
        *(F.lit(None).cast(event_rows.schema[name].dataType).alias(name) for name in detail),
    )
    lifecycle = F.col("lifecycle")
    days = (
        event_rows.unionByName(session_rows)
        .groupBy("device_key", "date")
        .agg(
            F.count_if("is_event").alias("events"),
            F.count_if(~F.col("is_event")).alias("sessions"),
            F.count_if(lifecycle == CRASHED).alias("crashes"),
            F.count_if(lifecycle == INSTALLED).alias("installs"),
            F.min("event_ts").alias("first_event_at"),
            F.max("event_ts").alias("last_event_at"),
            *(
                latest_non_null(F.col(name), "event_ts", "event_id").alias(name)
                for name in ("platform", *LATEST_SEEN)
            ),
        )
    )
    return conform(days, DeviceDay)


def devices_from_days(days: DataFrame) -> DataFrame:
    """:func:`device_dimension` of the devices whose every :func:`device_days` row ``days`` holds.

    Counts are sums of the days, ``first_seen``/``last_seen`` their extremes, ``install_date``
    the first day with an install event. The latest values are those of the latest day that has
    one: ``event_date`` is the UTC day of ``event_ts``, so every event of a later day is later by
    ``(event_ts, event_id)`` and the day's value (its latest) is the device's. A device with no
    event (only a session's day, which real silver never has) is left out, as there; the others
    have a platform and first and last event times, so the fallbacks below are never taken: they
    only give the columns the contract's nullability.
    """
    never = F.timestamp_seconds(F.lit(0))
    devices = (
        days.groupBy("device_key")
        .agg(
            F.min("first_event_at").alias("_first_seen"),
            F.max("last_event_at").alias("_last_seen"),
            latest_non_null(F.col("platform"), "date").alias("_platform"),
            *(latest_non_null(F.col(name), "date").alias(name) for name in LATEST_SEEN),
            F.min(F.when(F.col("installs") > 0, F.col("date"))).alias("install_date"),
            *(F.coalesce(F.sum(name), F.lit(0)).alias(name) for name in ("sessions", "events", "crashes")),
        )
        .where(F.col("_first_seen").isNotNull())
        .select(
            "*",
            F.coalesce(F.col("_platform"), F.lit(UNKNOWN)).alias("platform"),
            F.coalesce(F.col("_first_seen"), never).alias("first_seen"),
            F.coalesce(F.col("_last_seen"), never).alias("last_seen"),
        )
    )
    return conform(devices, DeviceDimension)


def device_dimension(events: DataFrame, sessions: DataFrame) -> DataFrame:
    """One row per device with events, from the device's whole history of events and sessions.

    Platform, last_seen and the latest-seen values come from the device's latest event (by
    ``event_ts``, then ``event_id``); a value the latest event lacks is taken from the latest
    event that has it. ``install_date`` is the day of the first ``Application Installed`` event,
    null when none was seen; ``crashes`` counts ``Application Crashed`` events. This is the
    definition; the gold job computes the same rows in two steps, :func:`device_days` then
    :func:`devices_from_days`, so that a batch reads only the affected days of silver.
    """
    device = Window.partitionBy("device_key")
    history = device.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    latest = {
        name: latest_non_null(F.col(name), "event_ts", "event_id").over(history) for name in LATEST_SEEN
    }
    ranked = events.select(
        "device_key",
        "platform",
        "event_ts",
        F.row_number().over(device.orderBy(F.desc("event_ts"), F.desc("event_id"))).alias("from_last"),
        F.min(F.when(F.col("lifecycle") == INSTALLED, F.col("event_date")))
        .over(history)
        .alias("install_date"),
        F.count(F.lit(1)).over(history).alias("events"),
        F.count_if(F.col("lifecycle") == CRASHED).over(history).alias("crashes"),
        *(column.alias(name) for name, column in latest.items()),
    )
    first_events = events.select(
        "device_key",
        F.col("event_ts").alias("first_seen"),
        F.row_number().over(device.orderBy("event_ts", "event_id")).alias("from_first"),
    ).where(F.col("from_first") == 1)
    session_counts = sessions.groupBy("device_key").agg(F.count(F.lit(1)).alias("sessions"))
    devices = (
        ranked.where(F.col("from_last") == 1)
        .withColumnRenamed("event_ts", "last_seen")
        .join(first_events.drop("from_first"), "device_key")
        .join(session_counts, "device_key", "left")
        .fillna({"sessions": 0})
    )
    return conform(devices, DeviceDimension)


def _active_devices(events: DataFrame) -> DataFrame:
    return events.where(F.col("session_id").isNotNull())


def _by_version(sessions: DataFrame, dates: Collection[date] | None) -> DataFrame:
    """Sessions of ``dates`` keyed by start day, platform and app version."""
    return on_days(sessions, "session_date", dates).select(
        F.col("session_date").alias("date"),
        "platform",
        _named(F.col("app_version")).alias("app_version"),
        "device_key",
        "duration_seconds",
        "crashed",
    )


def _adoption(events: DataFrame, dates: Collection[date] | None, version: str) -> DataFrame:
    """Each active device under the last ``version`` it reported that day (``'unknown'`` when
    it reported none), counted per day and platform; share = devices / the platform's devices."""
    per_device = (
        on_days(_active_devices(events), "event_date", dates)
        .groupBy(F.col("event_date").alias("date"), "platform", "device_key")
        .agg(_named(latest_non_null(F.col(version), "event_ts", "event_id")).alias(version))
    )
    platform_day = Window.partitionBy("date", "platform")
    return (
        per_device.groupBy("date", "platform", version)
        .agg(F.count(F.lit(1)).alias("devices"))
        .withColumn("share", ratio(F.col("devices"), F.sum("devices").over(platform_day)))
    )


def _named(version: Column) -> Column:
    return F.coalesce(version, F.lit(UNKNOWN))
