"""Building blocks of daily gold aggregates that any product's pure transforms share.

- Day selection: :func:`on_days` keeps the rows of the requested output days, and
  :func:`expand_dates` turns a set of days into the days around them: the input context a day
  needs (a trailing window, a session crossing midnight) or the output days a changed day affects.
- Rollups: :func:`with_all` makes ``'all'`` rows, so that one ``groupBy`` yields the detail rows
  and every total of a cube. Distinct counts in a rollup row are distinct over the whole rollup.
- Values: :func:`ratio` never yields null, :func:`latest_non_null` picks the newest known value.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

ALL = "all"
"""The value a rolled-up dimension takes in the total rows of a cube."""


def expand_dates(days: Iterable[date], *, before: int = 0, after: int = 0) -> set[date]:
    """Every day from ``before`` days before to ``after`` days after each of ``days``."""
    if before < 0 or after < 0:
        raise ValueError("before and after count days and cannot be negative")
    return {day + timedelta(days=shift) for day in days for shift in range(-before, after + 1)}


def on_days(df: DataFrame, column: str, dates: Collection[date] | None) -> DataFrame:
    """The rows whose ``column`` is one of ``dates``; all rows when ``dates`` is None."""
    if dates is None:
        return df
    from pyspark.sql import functions as F

    return df.where(F.col(column).isin(sorted(dates)))


def with_all(df: DataFrame, *columns: str) -> DataFrame:
    """Each row once under every combination of its own value and ``'all'`` in ``columns``.

    Grouping the result by ``columns`` gives the detail rows and all rollups of a cube, with
    ``'all'`` standing for a rolled-up dimension. The columns must be strings; a null would stay
    a null in the detail rows, so give it a name (``'unknown'``) first.
    """
    from pyspark.sql import functions as F

    for name in columns:
        df = df.withColumn(name, F.explode(F.array(F.col(name), F.lit(ALL))))
    return df


def ratio(numerator: Column, denominator: Column) -> Column:
    """``numerator / denominator`` as a double; 0.0 when the denominator is 0 or missing."""
    from pyspark.sql import functions as F

    return F.coalesce(F.try_divide(numerator.cast("double"), denominator), F.lit(0.0))


def latest_non_null(value: Column, *order: Column | str) -> Column:
    """Aggregate: ``value`` of the row that is last by ``order`` among rows where it is not
    null; null only when it is null in every row. Works in ``agg`` and over a window."""
    from pyspark.sql import functions as F

    return F.max_by(value, F.struct(value.isNotNull(), *order))
