"""pyarrow building blocks for the queries behind a serving API: filters pushed down to the Delta
files, sums and weighted means over groups, and rows turned into response models."""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Literal, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)

SortOrder = Sequence[tuple[str, Literal["ascending", "descending"]]]


def between(column: str, start: date, end: date) -> pc.Expression:
    """``start <= column <= end``; on a partition column it prunes whole partitions."""
    field = pc.field(column)
    return (field >= pa.scalar(start, pa.date32())) & (field <= pa.scalar(end, pa.date32()))


def where(condition: pc.Expression, equal: Mapping[str, object | None]) -> pc.Expression:
    """``condition`` and ``column == value`` for every entry of ``equal``; a value of None means
    the column is not filtered."""
    checks = [pc.field(column) == value for column, value in equal.items() if value is not None]
    return functools.reduce(operator.and_, checks, condition)


def weighted_by(table: pa.Table, value: str, weight: str, *, name: str) -> pa.Table:
    """Adds ``name = value * weight`` (null where value is null) and ``name_weight`` (the weight
    where value is present, else 0), so that after summing, ``name / name_weight`` is the
    weighted mean of the rows that had a value."""
    present = pc.is_valid(table[value])
    weights = pc.if_else(present, table[weight], 0)
    return table.append_column(name, pc.multiply(table[value], table[weight])).append_column(
        f"{name}_weight", weights
    )


def summed(
    table: pa.Table, by: Sequence[str], columns: Sequence[str], *, means: Mapping[str, str] | None = None
) -> pa.Table:
    """One row per distinct ``by``, holding ``by`` and the sum of each of ``columns`` under its
    own name (nulls are skipped; a group of only nulls sums to null).

    ``means`` maps a column to its weight column: the result holds that column's mean weighted by
    the weight, over the group's rows that have a value (null when none has, or their weights sum
    to 0), e.g. ``{"avg_seconds": "views"}`` turns daily averages into the average of the range.
    """
    means = dict(means or {})
    for column, weight in means.items():
        table = weighted_by(table, column, weight, name=f"{column}__weighted")
    weighted = [name for column in means for name in (f"{column}__weighted", f"{column}__weighted_weight")]
    grouped = table.group_by(list(by), use_threads=False).aggregate(
        [(column, "sum") for column in [*columns, *weighted]]
    )
    names = {f"{column}_sum": column for column in [*columns, *weighted]}
    grouped = grouped.rename_columns([names.get(name, name) for name in grouped.column_names])
    for column in means:
        total, weights = grouped[f"{column}__weighted"], grouped[f"{column}__weighted_weight"]
        mean = pc.if_else(pc.greater(weights, 0), pc.divide(total, pc.cast(weights, pa.float64())), None)
        grouped = grouped.append_column(column, mean)
    return grouped.drop_columns(weighted)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, 0.0 when the denominator is 0."""
    return numerator / denominator if denominator else 0.0


def to_models(table: pa.Table, model: type[ModelT], order: SortOrder) -> list[ModelT]:
    """The rows of ``table`` sorted by ``order`` (column, direction), each validated as ``model``."""
    return [model.model_validate(row) for row in table.sort_by(list(order)).to_pylist()]
