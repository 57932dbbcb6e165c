"""Query parameters every serving API shares: a validated date range and pagination, plus the
page envelope paginated endpoints answer with.

This module does not use postponed annotations: FastAPI evaluates the parameter annotations
of the dependencies built here, and they refer to the factory's arguments.

Type errors (``start=yesterday``, ``limit=0``) are FastAPI's 422 naming the parameter; semantic
errors (``end`` before ``start``, a range too long) are 400 with a message naming both dates.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, HTTPException, Query
from pydantic import BaseModel, Field

ItemT = TypeVar("ItemT")

DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 400
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def utc_today() -> date:
    return datetime.now(UTC).date()


def days_before(day: date, days: int) -> date:
    """``day`` minus ``days`` days, or the first representable date when that lies before it
    (a default start near year 1 is the start of the calendar, not a crash)."""
    if (day - date.min).days < days:
        return date.min
    return day - timedelta(days=days)


@dataclass(frozen=True)
class DateRange:
    """Inclusive on both ends."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def date_range_dependency(
    *,
    default_days: int = DEFAULT_RANGE_DAYS,
    max_days: int = MAX_RANGE_DAYS,
    today: Callable[[], date] = utc_today,
) -> Callable[[date | None, date | None], Awaitable[DateRange]]:
    """A dependency reading ``start`` and ``end`` (ISO dates, both inclusive).

    ``end`` defaults to today (UTC) and ``start`` to ``default_days`` days ending at ``end``.
    ``end`` before ``start``, or a range longer than ``max_days`` days, is a 400. The dependency
    is a coroutine: it computes in the event loop, without a hop to the thread pool.
    """

    async def date_range(
        start: Annotated[
            date | None,
            Query(description=f"First day, ISO date (inclusive). Default: {default_days} days up to end."),
        ] = None,
        end: Annotated[
            date | None, Query(description="Last day, ISO date (inclusive). Default: today (UTC).")
        ] = None,
    ) -> DateRange:
        resolved_end = end if end is not None else today()
        resolved_start = start if start is not None else days_before(resolved_end, default_days - 1)
        if resolved_end < resolved_start:
            raise HTTPException(
                400, f"end ({resolved_end}) is before start ({resolved_start}); end must be on or after start"
            )
        chosen = DateRange(resolved_start, resolved_end)
        if chosen.days > max_days:
            raise HTTPException(
                400,
                f"start ({resolved_start}) to end ({resolved_end}) spans {chosen.days} days; "
                f"at most {max_days} days per request",
            )
        return chosen

    return date_range


DateRangeQuery = Annotated[DateRange, Depends(date_range_dependency())]


@dataclass(frozen=True)
class Pagination:
    limit: int
    offset: int

    def window(self, items: Sequence[ItemT]) -> list[ItemT]:
        return list(items[self.offset : self.offset + self.limit])


async def pagination(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page, 1..{MAX_PAGE_SIZE}.")
    ] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
) -> Pagination:
    return Pagination(limit=limit, offset=offset)


PaginationQuery = Annotated[Pagination, Depends(pagination)]


class Page(BaseModel, Generic[ItemT]):
    """One page of a longer result; ask for ``offset=next_offset`` to get the next one."""

    items: list[ItemT]
    total: int = Field(description="Items in the whole result.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")

    @classmethod
    def of(cls, items: Sequence[ItemT], pagination: Pagination) -> "Page[ItemT]":
        """The page of ``items`` (the whole, ordered result) that ``pagination`` selects."""
        following = pagination.offset + pagination.limit
        return cls(
            items=pagination.window(items),
            total=len(items),
            limit=pagination.limit,
            offset=pagination.offset,
            next_offset=following if following < len(items) else None,
        )
