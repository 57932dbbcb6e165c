"""The product's own query parameters (the shared ones live in ``lakehouse_core.serving.params``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Query

from lakehouse_core.serving.params import days_before, utc_today

DEFAULT_COHORT_WEEKS = 12
MAX_COHORT_WEEKS = 104


@dataclass(frozen=True)
class WeekRange:
    """Cohort weeks, named by their Mondays, both inclusive."""

    from_week: date
    to_week: date


def _require_monday(name: str, value: date) -> None:
    if value.weekday() != 0:
        monday = value - timedelta(days=value.weekday())
        raise HTTPException(400, f"{name} ({value}) is a {value:%A}; it must be a Monday, e.g. {monday}")


def week_range(
    from_week: Annotated[
        date | None,
        Query(
            description=f"Monday of the first cohort. Default: {DEFAULT_COHORT_WEEKS} weeks up to to_week."
        ),
    ] = None,
    to_week: Annotated[
        date | None, Query(description="Monday of the last cohort. Default: this week's Monday (UTC).")
    ] = None,
) -> WeekRange:
    if from_week is not None:
        _require_monday("from_week", from_week)
    if to_week is not None:
        _require_monday("to_week", to_week)
    if to_week is None:
        today = utc_today()
        to_week = today - timedelta(days=today.weekday())
    if from_week is None:
        from_week = days_before(to_week, 7 * (DEFAULT_COHORT_WEEKS - 1))
    if to_week < from_week:
        raise HTTPException(400, f"to_week ({to_week}) is before from_week ({from_week})")
    weeks = (to_week - from_week).days // 7 + 1
    if weeks > MAX_COHORT_WEEKS:
        raise HTTPException(
            400,
            f"from_week ({from_week}) to to_week ({to_week}) spans {weeks} weeks; at most {MAX_COHORT_WEEKS}",
        )
    return WeekRange(from_week, to_week)


WeekRangeQuery = Annotated[WeekRange, Depends(week_range)]
