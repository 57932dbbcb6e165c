"""Active devices and session statistics per day: the gold rows, whose 'all' rows hold the totals."""

from __future__ import annotations

from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from mobile_user_analytics.contracts import ActiveUsers, SessionStats
from mobile_user_analytics.serving.params import Platform
from mobile_user_analytics.serving.queries.daily import daily_rows


def active_users(table: ServedTable, dates: DateRange, *, platform: Platform) -> list[ActiveUsers]:
    """DAU, WAU, MAU and stickiness of ``platform`` ('all': every platform) per day, by date."""
    return daily_rows(table, ActiveUsers, dates, equal={"platform": platform}, order=[("date", "ascending")])


def session_stats(
    table: ServedTable, dates: DateRange, *, platform: Platform, app_version: str
) -> list[SessionStats]:
    """Session statistics of one platform and app version ('all': the total) per day, by date."""
    return daily_rows(
        table,
        SessionStats,
        dates,
        equal={"platform": platform, "app_version": app_version},
        order=[("date", "ascending")],
    )
