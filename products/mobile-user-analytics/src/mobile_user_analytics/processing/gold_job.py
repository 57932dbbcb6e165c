"""Silver → gold, incrementally: only what the latest silver changes can affect is recomputed.

The job follows the change data feed of silver sessions: every silver change re-summarises the
touched devices' sessions, so the feed names every changed session day and every touched device.
Per batch of changes (C = the changed session days):

- ``session_stats`` and ``crash_free``: the days C.
- ``screen_stats``, ``screen_transitions``, ``version_adoption``, ``os_adoption``: the event days
  of the changed sessions, C and the day after each (a session may run past midnight).
- ``active_users``: those event days and the 29 days after each (their 30-day windows hold
  them), up to the latest event day in silver; read with the 29 days before each as context.
- ``install_cohorts``: the days of the touched devices' install events, and the install days
  the device dimension held for them before this batch (a late, earlier install event moves a
  device to another cohort). A changed session on day c counts for the cohorts c-1, c-7 and
  c-30 only through its device, whose install day is among these.
- ``device_dimension``: the touched devices' rows, from their whole history, upserted.

Daily tables overwrite exactly the partitions of the days recomputed (a day left without rows is
emptied); all writes are idempotent, so a replayed batch gives the same gold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse_core.aggregation import expand_dates
from lakehouse_core.delta import merge_upsert, overwrite_partitions, read_table
from mobile_user_analytics.processing.gold import (
    INSTALLED,
    active_users,
    active_users_affected_dates,
    active_users_input_dates,
    crash_free,
    device_dimension,
    install_cohorts,
    os_adoption,
    retention_input_dates,
    screen_stats,
    screen_transitions,
    session_stats,
    version_adoption,
)
from mobile_user_analytics.storage.tables import (
    GOLD_ACTIVE_USERS,
    GOLD_CRASH_FREE,
    GOLD_DEVICES,
    GOLD_INSTALL_COHORTS,
    GOLD_OS_ADOPTION,
    GOLD_SCREEN_STATS,
    GOLD_SCREEN_TRANSITIONS,
    GOLD_SESSION_STATS,
    GOLD_TABLES,
    GOLD_VERSION_ADOPTION,
    SILVER_EVENTS,
    SILVER_SCREEN_VIEWS,
    SILVER_SESSIONS,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse_core.tables import TableSpec


#: What the gold job reads and writes; created when missing, so a first run on an empty lake works.
GOLD_INPUTS_AND_OUTPUTS = (SILVER_EVENTS, SILVER_SCREEN_VIEWS, *GOLD_TABLES)


@dataclass(frozen=True)
class GoldStep:
    lake_root: str

    def __call__(self, changes: DataFrame, batch_id: int) -> None:
        changed = changes.select("session_date", "device_key").distinct().persist()
        try:
            days = {r[0] for r in changed.select("session_date").distinct().collect()}
            if days:
                self._recompute_days(changes.sparkSession, days)
                self._recompute_devices(changed.select("device_key").distinct())
        finally:
            changed.unpersist()

    def _recompute_days(self, spark: SparkSession, session_days: set[date]) -> None:
        sessions = self._read(spark, SILVER_SESSIONS, "session_date", session_days)
        self._overwrite(session_stats(sessions, session_days), GOLD_SESSION_STATS, session_days)
        self._overwrite(crash_free(sessions, session_days), GOLD_CRASH_FREE, session_days)

        last_day = read_table(spark, SILVER_EVENTS, lake_root=self.lake_root).agg(F.max("event_date")).first()
        if last_day is None or last_day[0] is None:
            return
        event_days = {d for d in expand_dates(session_days, after=1) if d <= last_day[0]}
        screen_views = self._read(spark, SILVER_SCREEN_VIEWS, "event_date", event_days)
        self._overwrite(screen_stats(screen_views, event_days), GOLD_SCREEN_STATS, event_days)
        self._overwrite(screen_transitions(screen_views, event_days), GOLD_SCREEN_TRANSITIONS, event_days)
        events = self._read(spark, SILVER_EVENTS, "event_date", event_days)
        self._overwrite(version_adoption(events, event_days), GOLD_VERSION_ADOPTION, event_days)
        self._overwrite(os_adoption(events, event_days), GOLD_OS_ADOPTION, event_days)

        active_days = {d for d in active_users_affected_dates(event_days) if d <= last_day[0]}
        context = self._read(spark, SILVER_EVENTS, "event_date", active_users_input_dates(active_days))
        self._overwrite(active_users(context, active_days), GOLD_ACTIVE_USERS, active_days)

    def _recompute_devices(self, devices: DataFrame) -> None:
        spark = devices.sparkSession
        stored = read_table(spark, GOLD_DEVICES, lake_root=self.lake_root).join(
            devices, "device_key", "left_semi"
        )
        all_events = read_table(spark, SILVER_EVENTS, lake_root=self.lake_root)
        events = all_events.join(devices, "device_key", "left_semi")
        installed = all_events.where(F.col("lifecycle") == INSTALLED)
        install_days = {
            r[0]
            for r in stored.select("install_date")
            .unionByName(
                events.where(F.col("lifecycle") == INSTALLED).select(
                    F.col("event_date").alias("install_date")
                )
            )
            .where(F.col("install_date").isNotNull())
            .distinct()
            .collect()
        }
        if install_days:
            returns = self._read(spark, SILVER_SESSIONS, "session_date", retention_input_dates(install_days))
            self._overwrite(
                install_cohorts(installed, returns, install_days), GOLD_INSTALL_COHORTS, install_days
            )
        sessions = read_table(spark, SILVER_SESSIONS, lake_root=self.lake_root).join(
            devices, "device_key", "left_semi"
        )
        merge_upsert(
            device_dimension(events, sessions), GOLD_DEVICES, lake_root=self.lake_root, keys=("device_key",)
        )

    def _read(self, spark: SparkSession, spec: TableSpec, column: str, days: set[date]) -> DataFrame:
        return read_table(spark, spec, lake_root=self.lake_root).where(F.col(column).isin(sorted(days)))

    def _overwrite(self, rows: DataFrame, spec: TableSpec, days: set[date]) -> None:
        overwrite_partitions(rows, spec, lake_root=self.lake_root, partitions=days)
