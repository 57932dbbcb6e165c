"""Silver attempts and gold freshness checks → incidents (pure), and where an incremental
recompute must start so that it gives the same incidents as a recompute of all history.

An incident is a streak: per asset, from a failed final attempt to the next successful one; per
table, from a check in ``breach`` to the next check in ``ok`` (``warn`` and ``missing`` checks
neither open nor close one). docs/METRICS.md defines every column."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from operational_metrics.contracts import Incident

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def _streaks(events: DataFrame, key: list[str], *, opens: Column, closes: Column) -> DataFrame:
    """The incidents among ``events`` (one row per event: ``key`` columns, ``at``, ``tie``),
    one row per incident: ``key``, ``opened_tie`` (the opening event's ``tie``), ``opened_at``,
    ``closed_at`` (the first closing event after it, or null) and ``occurrences`` (the opening
    events while it was open). An event where ``opens`` holds opens an incident unless one is
    open; one where ``closes`` holds closes it; any other event changes nothing."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(*key).orderBy("at", "tie")
    marker = F.when(opens, F.lit("open")).when(closes, F.lit("close"))
    marked = events.withColumn("_marker", marker).withColumn(
        "_in_incident",
        F.coalesce(F.last("_marker", ignorenulls=True).over(order) == "open", F.lit(False)),
    )
    changed = F.coalesce(F.lag("_in_incident").over(order) != F.col("_in_incident"), F.lit(True))
    streaks = marked.withColumn("_streak", F.sum(changed.cast("int")).over(order))
    per_streak = streaks.groupBy(*key, "_streak").agg(
        F.first("_in_incident").alias("_in_incident"),
        F.min(F.struct("at", "tie")).alias("_first"),
        F.count(F.when(F.col("_marker") == "open", True)).alias("occurrences"),
    )
    next_start = F.lead(F.col("_first.at")).over(Window.partitionBy(*key).orderBy("_streak"))
    return (
        per_streak.withColumn("closed_at", next_start)
        .filter(F.col("_in_incident"))
        .select(
            *key,
            F.col("_first.tie").alias("opened_tie"),
            F.col("_first.at").alias("opened_at"),
            "closed_at",
            "occurrences",
        )
    )


def _incident_columns(frame: DataFrame, kind: str, subject: Column) -> DataFrame:
    from pyspark.sql import functions as F

    stamp = F.date_format("opened_at", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
    seconds = F.col("closed_at").cast("double") - F.col("opened_at").cast("double")
    return (
        frame.withColumn("kind", F.lit(kind))
        .withColumn("incident_id", F.concat_ws(":", F.lit(kind), F.concat_ws("/", "product", subject), stamp))
        .withColumn("opened_date", F.to_date("opened_at"))
        .withColumn("status", F.when(F.col("closed_at").isNull(), F.lit("open")).otherwise(F.lit("closed")))
        .withColumn(
            "time_to_detect_seconds", F.col("opened_at").cast("double") - F.col("started_at").cast("double")
        )
        .withColumn("time_to_recover_seconds", seconds)
    )


def _since(events: DataFrame, since: datetime | None) -> DataFrame:
    from pyspark.sql import functions as F

    return events if since is None else events.filter(F.col("at") >= F.lit(since).cast("timestamp"))


def asset_incidents(attempts: DataFrame, *, since: datetime | None = None) -> DataFrame:
    """:class:`Incident` rows of kind ``asset_failing`` from silver ``attempts``: final attempts
    (not skipped) in the order they ended, from ``since`` on; a failed one opens, a succeeded
    one closes. The incident started when the first failed attempt of the opening task (same run
    and asset, retries included, also before ``since``) ended, so retries count in the time to
    detect."""
    from pyspark.sql import functions as F

    key = ["product", "asset"]
    finals = attempts.filter(F.col("final_attempt") & (F.col("status") != "skipped")).select(
        *key, F.col("finished_at").alias("at"), F.col("record_id").alias("tie"), "status"
    )
    failed = F.col("status") == "failed"
    streaks = _streaks(_since(finals, since), key, opens=failed, closes=F.col("status") == "succeeded")
    opening = attempts.select(
        F.col("record_id").alias("opened_tie"),
        "run_id",
        F.concat_ws(": ", "error_class", "error_message").alias("detail"),
    )
    first_failure = (
        attempts.filter(failed).groupBy(*key, "run_id").agg(F.min("finished_at").alias("first_failed_at"))
    )
    found = (
        streaks.join(opening, "opened_tie")
        .join(first_failure, [*key, "run_id"], "left")
        .withColumn("started_at", F.least(F.coalesce("first_failed_at", "opened_at"), "opened_at"))
        .withColumn("table_name", F.lit(None).cast("string"))
        .withColumn("detail", F.when(F.col("detail") != "", F.col("detail")))
    )
    return conform(_incident_columns(found, "asset_failing", F.col("asset")), Incident)


def sla_incidents(checks: DataFrame, *, since: datetime | None = None) -> DataFrame:
    """:class:`Incident` rows of kind ``sla_breach`` from gold freshness ``checks``, in check
    order per table from ``since`` on; a ``breach`` check opens, an ``ok`` check closes. The
    incident started when the newest data became ``breach_minutes`` old (the opening check's
    ``newest_data_at`` plus the SLA), at most the check that saw it. A check stored twice (same
    table and ``checked_at``) counts once."""
    from pyspark.sql import functions as F

    key = ["table_name", "product"]
    checks = checks.dropDuplicates(["table_name", "checked_at"])
    events = checks.select(
        *key,
        F.col("checked_at").alias("at"),
        F.col("checked_at").cast("string").alias("tie"),
        "state",
    )
    state = F.col("state")
    streaks = _streaks(_since(events, since), key, opens=state == "breach", closes=state == "ok")
    opening = checks.select(
        *key,
        F.col("checked_at").alias("opened_at"),
        F.timestamp_micros(F.unix_micros("newest_data_at") + F.col("breach_minutes") * 60_000_000).alias(
            "breach_from"
        ),
        F.format_string(
            "data %.0f s old, SLA breach at %d s", F.col("age_seconds"), F.col("breach_minutes") * 60
        ).alias("detail"),
    )
    found = (
        streaks.join(opening, [*key, "opened_at"])
        .withColumn("started_at", F.least(F.coalesce("breach_from", "opened_at"), "opened_at"))
        .withColumn("asset", F.lit(None).cast("string"))
        .withColumn("run_id", F.lit(None).cast("string"))
    )
    return conform(_incident_columns(found, "sla_breach", F.col("table_name")), Incident)


def incidents(attempts: DataFrame, checks: DataFrame, *, since: datetime | None = None) -> DataFrame:
    """Every incident of ``attempts`` and ``checks`` opened from ``since`` on, with no incident
    open at ``since`` (see :func:`replay_start`, :func:`asset_incidents`, :func:`sla_incidents`)."""
    return asset_incidents(attempts, since=since).unionByName(sla_incidents(checks, since=since))


def replay_start(first_changed_day: date, stored: Iterable[tuple[datetime, datetime | None]]) -> datetime:
    """Midnight (UTC) from which recomputing the incidents gives what a recompute of all history
    would: the first changed day, moved back to the opening day of any stored incident
    (``opened_at``, ``closed_at``) still open at that midnight, until none is. Events before it
    are unchanged and no incident is open across it, so the recompute starts from 'none open'."""
    spans = sorted(stored)
    start = datetime.combine(first_changed_day, time(), tzinfo=UTC)
    moved = True
    while moved:
        moved = False
        for opened, closed in spans:
            if opened < start and (closed is None or closed >= start):
                start = datetime.combine(opened.date(), time(), tzinfo=UTC)
                moved = True
                break
    return start


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
