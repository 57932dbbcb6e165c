"""App and OS version adoption per day. Shares are of the row's own platform, so platform 'all'
returns every platform's rows rather than adding shares of different platforms up."""

from __future__ import annotations

from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from mobile_user_analytics.contracts import OsAdoption, VersionAdoption
from mobile_user_analytics.serving.params import ALL, Platform
from mobile_user_analytics.serving.queries.daily import daily_rows


def _platform(platform: Platform) -> str | None:
    return None if platform == ALL else platform


def version_adoption(
    table: ServedTable, dates: DateRange, *, platform: Platform, app_version: str | None
) -> list[VersionAdoption]:
    """By date and platform, then most devices first (ties by version)."""
    return daily_rows(
        table,
        VersionAdoption,
        dates,
        equal={"platform": _platform(platform), "app_version": app_version},
        order=[
            ("date", "ascending"),
            ("platform", "ascending"),
            ("devices", "descending"),
            ("app_version", "ascending"),
        ],
    )


def os_adoption(table: ServedTable, dates: DateRange, *, platform: Platform) -> list[OsAdoption]:
    """By date and platform, then most devices first (ties by OS version)."""
    return daily_rows(
        table,
        OsAdoption,
        dates,
        equal={"platform": _platform(platform)},
        order=[
            ("date", "ascending"),
            ("platform", "ascending"),
            ("devices", "descending"),
            ("os_version", "ascending"),
        ],
    )
