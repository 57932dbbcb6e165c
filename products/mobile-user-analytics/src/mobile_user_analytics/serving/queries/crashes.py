"""Crash-free sessions and devices per day and app version."""

from __future__ import annotations

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import SortOrder, between, ratio, to_models, where
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from mobile_user_analytics.contracts import CrashFree
from mobile_user_analytics.serving.params import ALL, Platform
from mobile_user_analytics.serving.queries.platforms import across_platforms

_COUNTS = ["sessions", "crashed_sessions", "devices", "crashed_devices"]


def crash_free(
    table: ServedTable, dates: DateRange, *, platform: Platform, app_version: str | None
) -> list[CrashFree]:
    """By date, then most sessions first (ties by version). ``ios``/``android``: the gold rows;
    ``all``: counts summed over platforms per date and version, rates recomputed from the sums."""

    def compute(reader: DeltaReader) -> list[CrashFree]:
        window = where(between("date", dates.start, dates.end), {"app_version": app_version})
        order: SortOrder = [("date", "ascending"), ("sessions", "descending"), ("app_version", "ascending")]
        if platform != ALL:
            return to_models(reader.read(filter=where(window, {"platform": platform})), CrashFree, order)
        return [
            CrashFree(
                **row,
                platform=ALL,
                crash_free_sessions=1.0 - ratio(row["crashed_sessions"], row["sessions"]),
                crash_free_devices=1.0 - ratio(row["crashed_devices"], row["devices"]),
            )
            for row in across_platforms(reader.read(filter=window), ["date", "app_version"], _COUNTS, order)
        ]

    return table.query(("crash_free", dates, platform, app_version), compute)
