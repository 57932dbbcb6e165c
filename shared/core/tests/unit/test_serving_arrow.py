from datetime import date

import pyarrow as pa
import pytest
from pydantic import BaseModel

from lakehouse_core.serving.arrow import between, ratio, summed, to_models, weighted_by, where

pytestmark = pytest.mark.unit

ROWS = pa.table(
    {
        "day": pa.array(
            [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 2)], pa.date32()
        ),
        "kind": ["a", "b", "a", "a"],
        "count": [1, 2, 4, 8],
        "mean": [10.0, None, 1.0, 2.0],
    }
)


class Row(BaseModel):
    day: date
    kind: str
    count: int


def test_between_is_inclusive_on_both_ends() -> None:
    assert ROWS.filter(between("day", date(2024, 1, 2), date(2024, 1, 3)))["count"].to_pylist() == [2, 4, 8]
    assert ROWS.filter(between("day", date(2024, 1, 1), date(2024, 1, 1)))["count"].to_pylist() == [1]


def test_where_adds_equality_filters_and_skips_none() -> None:
    window = between("day", date(2024, 1, 1), date(2024, 1, 2))
    assert ROWS.filter(where(window, {"kind": "a"}))["count"].to_pylist() == [1, 8]
    assert ROWS.filter(where(window, {"kind": None}))["count"].to_pylist() == [1, 2, 8]
    assert ROWS.filter(where(window, {"kind": "a", "count": 8}))["count"].to_pylist() == [8]
    assert ROWS.filter(where(window, {"kind": "c"})).num_rows == 0


def test_weighted_by_leaves_rows_without_a_value_out_of_the_weights() -> None:
    weighted = weighted_by(ROWS, "mean", "count", name="total")
    assert weighted["total"].to_pylist() == [10.0, None, 4.0, 16.0]
    assert weighted["total_weight"].to_pylist() == [1, 0, 4, 8]


def test_summed_keeps_the_column_names_and_skips_nulls() -> None:
    weighted = weighted_by(ROWS, "mean", "count", name="total")
    sums = summed(weighted, ["kind"], ["count", "total", "total_weight"]).sort_by("kind").to_pylist()
    assert sums == [
        {"kind": "a", "count": 13, "total": 30.0, "total_weight": 13},
        {"kind": "b", "count": 2, "total": None, "total_weight": 0},
    ]


def test_summed_renames_only_the_summed_columns() -> None:
    table = pa.table({"x_sum": ["k", "k"], "n": [1, 2]})
    assert summed(table, ["x_sum"], ["n"]).to_pylist() == [{"x_sum": "k", "n": 3}]


def test_ratio_is_zero_for_a_zero_denominator() -> None:
    assert (ratio(1, 4), ratio(3, 0), ratio(0, 0)) == (0.25, 0.0, 0.0)


def test_to_models_sorts_then_validates() -> None:
    ordered = to_models(ROWS, Row, [("kind", "descending"), ("count", "ascending")])
    assert ordered == [
        Row(day=date(2024, 1, 2), kind="b", count=2),
        Row(day=date(2024, 1, 1), kind="a", count=1),
        Row(day=date(2024, 1, 3), kind="a", count=4),
        Row(day=date(2024, 1, 2), kind="a", count=8),
    ]


def test_summed_weighted_means_skip_rows_without_a_value() -> None:
    sums = summed(ROWS, ["kind"], ["count"], means={"mean": "count"}).sort_by("kind").to_pylist()
    assert sums == [
        {"kind": "a", "count": 13, "mean": (10.0 * 1 + 1.0 * 4 + 2.0 * 8) / 13},
        {"kind": "b", "count": 2, "mean": None},
    ]


def test_summed_weighted_mean_is_null_when_the_weights_sum_to_zero() -> None:
    table = pa.table({"k": ["x", "x"], "avg": [5.0, 7.0], "n": [0, 0]})
    assert summed(table, ["k"], ["n"], means={"avg": "n"}).to_pylist() == [{"k": "x", "n": 0, "avg": None}]
