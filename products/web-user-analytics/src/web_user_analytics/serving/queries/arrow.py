"""Small pyarrow building blocks the resource queries share."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc


def between(column: str, start: date, end: date) -> pc.Expression:
    """``start <= column <= end``; on a partition column it prunes whole partitions."""
    field = pc.field(column)
    return (field >= pa.scalar(start, pa.date32())) & (field <= pa.scalar(end, pa.date32()))


def weighted_by(table: pa.Table, value: str, weight: str, *, name: str) -> pa.Table:
    """Adds ``name = value * weight`` (null where value is null) and ``name_weight`` (the weight
    where value is present, else 0), so that after summing, ``name / name_weight`` is the
    weighted mean of the rows that had a value."""
    present = pc.is_valid(table[value])
    weights = pc.if_else(present, table[weight], 0)
    return table.append_column(name, pc.multiply(table[value], table[weight])).append_column(
        f"{name}_weight", weights
    )


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
