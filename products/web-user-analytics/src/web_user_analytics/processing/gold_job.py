"""Silver → gold, incrementally: only what the latest silver changes can affect is recomputed.

The job follows the change data feed of silver sessions (every silver change re-summarises the
touched visitors' sessions, so that feed names every touched day and visitor). Per batch of
changes (C = the changed session days, V = the touched visitors):

- daily tables: the days C and one day either side, read with one more day of context each side,
  written at the same time (:func:`~lakehouse_core.delta.write_all`).
- ``visitor_days``: the same days' partitions, rewritten from the silver rows read for them.
- ``user_dimension``: V's rows, summed from their ``visitor_days`` rows, upserted.
- ``retention_cohorts``: the weeks of C; for each visitor of V the week of their ``first_seen`` in
  the user dimension before this batch and after it, the week of their first session, and the
  week of their first session this batch did not touch (a late event can move a visitor's first
  visit to an earlier week: then their old cohort, too, must lose them). Sessions are read from
  the earliest of those weeks only (:func:`retention_input_start`); a visitor with sessions
  before it (the user dimension counts their sessions) belongs to an earlier cohort, untouched.

All writes are idempotent, so a replayed batch gives the same gold.

Why ``visitor_days``: the user dimension is a sum over a visitor's whole history, so computing
it from silver reads every event and session the touched visitors ever had, on every batch, and
silver cannot be pruned by visitor (it is partitioned by day). A visitor-day row is a function of
that day's silver rows alone, so it is rewritten exactly where silver changed — the affected days,
already read for the daily tables — and the user dimension is then a sum over a few compact rows
per visitor (:func:`~web_user_analytics.processing.gold.users_from_days`), equal to
:func:`~web_user_analytics.processing.gold.user_dimension` over the whole history. A day's
partition is replaced whole, so a visitor whose rows left that day of silver leaves it too. A lake
whose ``visitor_days`` was never written (created by an upgrade, with gold already built) is
filled from the whole of silver once, by the first batch (:meth:`GoldStep.fill_visitor_days`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse_core.delta import merge_upsert, overwrite_partitions, read_table, table_history, write_all
from web_user_analytics.config import WebConfig
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
    users_from_days,
    visitor_days,
    week_of,
)
from web_user_analytics.storage.tables import (
    GOLD_ACQUISITION,
    GOLD_DAILY_TRAFFIC,
    GOLD_FUNNEL_STEPS,
    GOLD_PAGE_STATS,
    GOLD_RETENTION,
    GOLD_TABLES,
    GOLD_USERS,
    GOLD_VISITOR_DAYS,
    SILVER_EVENTS,
    SILVER_SESSIONS,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


#: What the gold job reads and writes; created when missing, so a first run on an empty lake works.
GOLD_INPUTS_AND_OUTPUTS = (SILVER_EVENTS, *GOLD_TABLES, GOLD_VISITOR_DAYS)


@dataclass(frozen=True)
class GoldStep:
    config: WebConfig
    lake_root: str

    def __call__(self, changes: DataFrame, batch_id: int) -> None:
        changed = changes.select("session_date", "visitor_id").distinct().persist()
        try:
            days = {r[0] for r in changed.select("session_date").distinct().collect()}
            if days:
                self.fill_visitor_days(changes.sparkSession)
                self._recompute_days(changes, affected_dates(days))
                self._recompute_visitors(changes, changed.select("visitor_id").distinct(), days)
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
        windows = {
            f.name: timedelta(minutes=f.window_minutes) for f in self.config.funnels if f.window_minutes
        }
        outputs = [
            (GOLD_DAILY_TRAFFIC, daily_traffic(sessions, days)),
            (GOLD_PAGE_STATS, page_stats(events, days)),
            (GOLD_ACQUISITION, acquisition(sessions, days)),
            (GOLD_FUNNEL_STEPS, funnel_steps(events, sessions, funnels, days, windows=windows)),
            (GOLD_VISITOR_DAYS, visitor_days(events, sessions, days)),
        ]
        write_all(
            [
                partial(overwrite_partitions, rows, spec, lake_root=self.lake_root, partitions=days)
                for spec, rows in outputs
            ]
        )

    def _recompute_visitors(self, changes: DataFrame, visitors: DataFrame, changed_days: set[date]) -> None:
        spark = visitors.sparkSession
        all_sessions = read_table(spark, SILVER_SESSIONS, lake_root=self.lake_root)
        first_seen_before = self._first_seen_days(visitors)
        days = read_table(spark, GOLD_VISITOR_DAYS, lake_root=self.lake_root).join(
            visitors, "visitor_id", "left_semi"
        )
        merge_upsert(
            users_from_days(days),
            GOLD_USERS,
            lake_root=self.lake_root,
            keys=("visitor_id",),
        )
        first_seen = first_seen_before | self._first_seen_days(visitors)
        start = retention_input_start(changed_days, first_seen)
        counts = read_table(spark, GOLD_USERS, lake_root=self.lake_root).select("visitor_id", "sessions")
        since = complete_histories(all_sessions.where(F.col("session_date") >= start), counts).persist()
        try:
            touched = since.join(visitors, "visitor_id", "left_semi")
            untouched = touched.join(changes.select("session_id").distinct(), "session_id", "left_anti")
            first_days = [
                sessions.groupBy("visitor_id").agg(F.min("session_date").alias("day"))
                for sessions in (touched, untouched)
            ]
            first_weeks = (
                first_days[0]
                .unionByName(first_days[1])
                .select(week_of(F.col("day")).alias("week"))
                .distinct()
            )
            weeks = (
                {r[0] for r in first_weeks.collect()}
                | {cohort_week(d) for d in changed_days}
                | {cohort_week(d) for d in first_seen}
            )
            overwrite_partitions(
                retention_cohorts(since, weeks), GOLD_RETENTION, lake_root=self.lake_root, partitions=weeks
            )
        finally:
            since.unpersist()

    def fill_visitor_days(self, spark: SparkSession) -> None:
        """Build ``visitor_days`` from the whole of silver if it was never written: the one
        batch that reads all of silver, on a lake that had gold before this table existed."""
        if table_history(spark, GOLD_VISITOR_DAYS, lake_root=self.lake_root, limit=1)[0]["version"] > 0:
            return
        events = read_table(spark, SILVER_EVENTS, lake_root=self.lake_root)
        sessions = read_table(spark, SILVER_SESSIONS, lake_root=self.lake_root)
        overwrite_partitions(visitor_days(events, sessions), GOLD_VISITOR_DAYS, lake_root=self.lake_root)

    def _first_seen_days(self, visitors: DataFrame) -> set[date]:
        """The days of the visitors' ``first_seen`` in the user dimension as it is now."""
        stored = read_table(visitors.sparkSession, GOLD_USERS, lake_root=self.lake_root)
        days = stored.join(visitors, "visitor_id", "left_semi").select(F.to_date("first_seen")).distinct()
        return {r[0] for r in days.collect()}
