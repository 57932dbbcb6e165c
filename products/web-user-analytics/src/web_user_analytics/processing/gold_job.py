"""Silver → gold, incrementally: only what the latest silver changes can affect is recomputed.

The job follows the change data feed of silver sessions (every silver change re-summarises the
touched visitors' sessions, so that feed names every touched day and visitor). Per batch of
changes: the affected days are recomputed (with a day of input context either side) and their
partitions overwritten; the affected visitors' cohort weeks are recomputed for retention; the
affected visitors' rows of the user dimension are upserted. All writes are idempotent, so a
replayed batch gives the same gold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse_core.delta import merge_upsert, overwrite_partitions, read_table
from web_user_analytics.config import WebConfig
from web_user_analytics.processing.gold import (
    acquisition,
    affected_dates,
    cohort_week,
    context_dates,
    daily_traffic,
    funnel_steps,
    page_stats,
    retention_cohorts,
    user_dimension,
)
from web_user_analytics.storage.tables import (
    GOLD_ACQUISITION,
    GOLD_DAILY_TRAFFIC,
    GOLD_FUNNEL_STEPS,
    GOLD_PAGE_STATS,
    GOLD_RETENTION,
    GOLD_TABLES,
    GOLD_USERS,
    SILVER_EVENTS,
    SILVER_SESSIONS,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


#: What the gold job reads and writes; created when missing, so a first run on an empty lake works.
GOLD_INPUTS_AND_OUTPUTS = (SILVER_EVENTS, *GOLD_TABLES)


@dataclass(frozen=True)
class GoldStep:
    config: WebConfig
    lake_root: str

    def __call__(self, changes: DataFrame, batch_id: int) -> None:
        changed = changes.select("session_date", "visitor_id").distinct().persist()
        try:
            days = {r[0] for r in changed.select("session_date").distinct().collect()}
            if days:
                self._recompute_days(changes, affected_dates(days))
                self._recompute_visitors(changed.select("visitor_id").distinct(), days)
        finally:
            changed.unpersist()

    def _recompute_days(self, changes: DataFrame, days: set[date]) -> None:
        spark = changes.sparkSession
        inputs = sorted(context_dates(days))
        events = read_table(spark, SILVER_EVENTS, lake_root=self.lake_root).where(
            F.col("event_date").isin(inputs)
        )
        sessions = read_table(spark, SILVER_SESSIONS, lake_root=self.lake_root).where(
            F.col("session_date").isin(inputs)
        )
        funnels = [(f.name, f.steps) for f in self.config.funnels]
        outputs = [
            (GOLD_DAILY_TRAFFIC, daily_traffic(sessions, days)),
            (GOLD_PAGE_STATS, page_stats(events, days)),
            (GOLD_ACQUISITION, acquisition(sessions, days)),
            (GOLD_FUNNEL_STEPS, funnel_steps(events, sessions, funnels, days)),
        ]
        for spec, rows in outputs:
            overwrite_partitions(rows, spec, lake_root=self.lake_root, partitions=days)

    def _recompute_visitors(self, visitors: DataFrame, changed_days: set[date]) -> None:
        """Retention: the cohorts the visitors are in now, and those their changed sessions'
        weeks may have held them in before (a late event can move a first visit earlier).
        User dimension: the visitors' rows, from their whole history."""
        spark = visitors.sparkSession
        all_sessions = read_table(spark, SILVER_SESSIONS, lake_root=self.lake_root)
        first_weeks = (
            all_sessions.join(visitors, "visitor_id", "left_semi")
            .groupBy("visitor_id")
            .agg(F.min("session_date").alias("first_day"))
            .select(F.date_trunc("week", "first_day").cast("date").alias("week"))
            .distinct()
        )
        weeks = {r[0] for r in first_weeks.collect()} | {cohort_week(d) for d in changed_days}
        overwrite_partitions(
            retention_cohorts(all_sessions, weeks), GOLD_RETENTION, lake_root=self.lake_root, partitions=weeks
        )
        events = read_table(spark, SILVER_EVENTS, lake_root=self.lake_root).join(
            visitors, "visitor_id", "left_semi"
        )
        sessions = all_sessions.join(visitors, "visitor_id", "left_semi")
        merge_upsert(
            user_dimension(events, sessions), GOLD_USERS, lake_root=self.lake_root, keys=("visitor_id",)
        )
