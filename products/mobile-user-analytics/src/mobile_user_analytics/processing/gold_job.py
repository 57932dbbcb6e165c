"""Silver → gold, incrementally: only what the latest silver changes can affect is recomputed.

The job follows the change data feed of silver sessions: every silver change re-summarises the
touched devices' sessions, so the feed names every changed session day and every touched device.
Per batch of changes (C = the changed session days):

- ``session_stats`` and ``crash_free``: the days C.
- ``screen_stats``, ``screen_transitions``, ``version_adoption``, ``os_adoption``: the event days
  of the changed sessions, C and the day after each (a session may run past midnight).
- ``active_users``: those event days and the 29 days after each (their 30-day windows hold
  them), up to the latest event day in silver; read with the 29 days before each as context.
- ``device_days``: C and one day either side (:func:`device_days_dates`), each partition
  rewritten whole from those days' events and sessions.
- ``device_dimension``: the touched devices' rows, aggregated from their ``device_days`` rows
  (:func:`devices_from_days`), upserted after the cohorts are written.
- ``install_cohorts``: the install days a batch can change (:func:`affected_install_dates`):
  a touched device's install day before the batch (from the stored device dimension) and after
  it, when they differ (a late, earlier install event moves a device to the earlier cohort; a
  later one, a reinstall, does not move it); otherwise its install day i only when a changed
  session of it lies on day i-1, i, i+1, i+7 or i+30. Only the install events of these days
  and the sessions of day 1, 7 and 30 after them are read; an install event counts only on the
  install day the device dimension holds for its device (:func:`first_install_events`).
- The latest event day in silver is read from the Delta log (a max over the partition column).

Daily tables overwrite exactly the partitions of the days recomputed (a day left without rows is
emptied); all writes are idempotent, so a replayed batch gives the same gold.

Why ``device_days``: the device dimension's counts and latest values range over a device's whole
history, and silver is partitioned by day, not by device, so computing it from silver reads every
day of silver on every batch. A device-day row is a function of that day's silver rows alone, so
it is rewritten exactly where silver changed, and the dimension is then an aggregate of a few
compact rows per device, equal to :func:`device_dimension` over the whole history. A day's
partition is replaced whole, so a device whose rows left that day of silver leaves it too. A
lake whose ``device_days`` was never written (created by an upgrade, with gold already built) is
filled from the whole of silver once, by the first batch (:meth:`GoldStep.fill_device_days`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse_core.aggregation import expand_dates
from lakehouse_core.delta import (
    Write,
    merge_upsert,
    overwrite_partitions,
    read_table,
    table_history,
    write_all,
)
from mobile_user_analytics.processing.gold import (
    active_users,
    active_users_affected_dates,
    active_users_input_dates,
    affected_install_dates,
    crash_free,
    device_days,
    device_days_dates,
    devices_from_days,
    first_install_events,
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
    GOLD_DEVICE_DAYS,
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
GOLD_INPUTS_AND_OUTPUTS = (SILVER_EVENTS, SILVER_SCREEN_VIEWS, *GOLD_TABLES, GOLD_DEVICE_DAYS)


@dataclass(frozen=True)
class GoldStep:
    lake_root: str

    def __call__(self, changes: DataFrame, batch_id: int) -> None:
        changed = changes.select("session_date", "device_key").distinct().persist()
        try:
            days = {r[0] for r in changed.select("session_date").distinct().collect()}
            if days:
                spark = changes.sparkSession
                self.fill_device_days(spark)
                write_all(
                    [
                        *self._day_writes(spark, days),
                        self._device_days_write(spark, device_days_dates(days)),
                    ]
                )
                self._recompute_devices(changed)
        finally:
            changed.unpersist()

    def _day_writes(self, spark: SparkSession, session_days: set[date]) -> list[Write]:
        """The daily tables' writes for the batch's session days: independent of one another."""
        sessions = self._read(spark, SILVER_SESSIONS, "session_date", session_days)
        writes = [
            self._overwrite(session_stats(sessions, session_days), GOLD_SESSION_STATS, session_days),
            self._overwrite(crash_free(sessions, session_days), GOLD_CRASH_FREE, session_days),
        ]
        last_day = read_table(spark, SILVER_EVENTS, lake_root=self.lake_root).agg(F.max("event_date")).first()
        if last_day is None or last_day[0] is None:
            return writes
        event_days = {d for d in expand_dates(session_days, after=1) if d <= last_day[0]}
        screen_views = self._read(spark, SILVER_SCREEN_VIEWS, "event_date", event_days)
        events = self._read(spark, SILVER_EVENTS, "event_date", event_days)
        active_days = {d for d in active_users_affected_dates(event_days) if d <= last_day[0]}
        context = self._read(spark, SILVER_EVENTS, "event_date", active_users_input_dates(active_days))
        return [
            *writes,
            self._overwrite(screen_stats(screen_views, event_days), GOLD_SCREEN_STATS, event_days),
            self._overwrite(
                screen_transitions(screen_views, event_days), GOLD_SCREEN_TRANSITIONS, event_days
            ),
            self._overwrite(version_adoption(events, event_days), GOLD_VERSION_ADOPTION, event_days),
            self._overwrite(os_adoption(events, event_days), GOLD_OS_ADOPTION, event_days),
            self._overwrite(active_users(context, active_days), GOLD_ACTIVE_USERS, active_days),
        ]

    def _device_days_write(self, spark: SparkSession, days: set[date]) -> Write:
        events = self._read(spark, SILVER_EVENTS, "event_date", days)
        sessions = self._read(spark, SILVER_SESSIONS, "session_date", days)
        return self._overwrite(device_days(events, sessions, days), GOLD_DEVICE_DAYS, days)

    def fill_device_days(self, spark: SparkSession) -> None:
        """Build ``device_days`` from the whole of silver if it was never written: the one
        batch that reads all of silver, on a lake that had gold before this table existed."""
        if table_history(spark, GOLD_DEVICE_DAYS, lake_root=self.lake_root, limit=1)[0]["version"] > 0:
            return
        events = read_table(spark, SILVER_EVENTS, lake_root=self.lake_root)
        sessions = read_table(spark, SILVER_SESSIONS, lake_root=self.lake_root)
        overwrite_partitions(device_days(events, sessions), GOLD_DEVICE_DAYS, lake_root=self.lake_root)

    def _recompute_devices(self, changed: DataFrame) -> None:
        """Cohorts are written before the dimension is upserted: a batch replayed after a
        failure between the two still finds the install days the dimension held before it."""
        spark = changed.sparkSession
        touched = changed.select("device_key").distinct()
        dimension = read_table(spark, GOLD_DEVICES, lake_root=self.lake_root)
        days = read_table(spark, GOLD_DEVICE_DAYS, lake_root=self.lake_root).join(
            touched, "device_key", "left_semi"
        )
        devices = devices_from_days(days).persist()
        try:
            stored = dimension.join(touched, "device_key", "left_semi")
            install_days = {r[0] for r in affected_install_dates(changed, stored, devices).collect()}
            if install_days:
                current = (
                    dimension.join(touched, "device_key", "left_anti")
                    .select("device_key", "install_date")
                    .unionByName(devices.select("device_key", "install_date"))
                )
                installs = first_install_events(
                    self._read(spark, SILVER_EVENTS, "event_date", install_days), current
                )
                returns = self._read(
                    spark, SILVER_SESSIONS, "session_date", retention_input_dates(install_days)
                )
                self._overwrite(
                    install_cohorts(installs, returns, install_days), GOLD_INSTALL_COHORTS, install_days
                )()
            merge_upsert(devices, GOLD_DEVICES, lake_root=self.lake_root, keys=("device_key",))
        finally:
            devices.unpersist()

    def _read(self, spark: SparkSession, spec: TableSpec, column: str, days: set[date]) -> DataFrame:
        return read_table(spark, spec, lake_root=self.lake_root).where(F.col(column).isin(sorted(days)))

    def _overwrite(self, rows: DataFrame, spec: TableSpec, days: set[date]) -> Write:
        return partial(overwrite_partitions, rows, spec, lake_root=self.lake_root, partitions=days)
