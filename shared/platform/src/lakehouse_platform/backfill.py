"""What every backfill shares: the range of days it recomputes, checked before anything runs,
and a progress bar of the days done.

A product's backfill (an event product's is :mod:`lakehouse_events.backfill`) walks a
:class:`DayRange` a chunk of days at a time and reports the days done to a :data:`Progressed`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lakehouse_core.errors import ConfigError
from lakehouse_core.serving.params import DateRange

#: The longest range a backfill takes without ``force`` (a year, leap day included).
MAX_DAYS = 366
#: Days recomputed per batch.
DEFAULT_CHUNK_DAYS = 7
TASK = "backfill"

Progressed = Callable[[int], None]
"""Told how many days of the range are done, after each batch (0 when an attempt starts)."""


class BackfillRangeError(ConfigError):
    """The dates of a backfill are not a usable range."""


class DayRange(DateRange):
    """The days ``start`` to ``end``, both included, as a backfill walks them."""

    @property
    def partition(self) -> str:
        """The range as a run record's ``partition``: ``D1..D2``."""
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def chunks(self, size: int) -> Iterator[tuple[date, date]]:
        """Consecutive sub-ranges of at most ``size`` days (first and last day), in order."""
        first = self.start
        while first <= self.end:
            last = min(first + timedelta(days=size - 1), self.end)
            yield first, last
            first = last + timedelta(days=1)


def day_range(start: str, end: str, *, force: bool = False, max_days: int = MAX_DAYS) -> DayRange:
    """The range of two ISO dates, refused when it is backwards or, without ``force``, longer
    than ``max_days`` (a typo in a year recomputes years of gold)."""
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise BackfillRangeError(f"dates must be ISO dates (YYYY-MM-DD): {exc}") from exc
    if last < first:
        raise BackfillRangeError(f"--end {last} is before --start {first}: the range is empty")
    days = DayRange(first, last)
    if days.days > max_days and not force:
        raise BackfillRangeError(
            f"{days.partition} is {days.days} days, more than {max_days}: pass --force to backfill it"
        )
    return days


def spans(days: Iterable[date]) -> list[str]:
    """Days as runs of consecutive days, ``D1..D2`` (or ``D`` alone), in order."""
    found: list[list[date]] = []
    for day in sorted(set(days)):
        if found and day - found[-1][1] == timedelta(days=1):
            found[-1][1] = day
        else:
            found.append([day, day])
    return [f"{a}..{b}" if a != b else str(a) for a, b in found]


def day_progress(console: Console | None = None) -> Progress:
    """Days done of the range, with the time elapsed."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TimeElapsedColumn(),
        console=console,
    )
