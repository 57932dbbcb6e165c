"""``<product> backfill``: the range it takes and the ranges it refuses, before any Spark starts."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from lakehouse_events.product import EventProduct, product_cli
from lakehouse_platform.backfill import BackfillRangeError, DayRange, day_range, spans
from lakehouse_platform.catalog import discover_products

pytestmark = pytest.mark.unit

WEB = next(p for p in discover_products() if isinstance(p, EventProduct) and p.name == "web-user-analytics")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--start", "2024-03-08", "--end", "2024-03-07"], "is before --start 2024-03-08"),
        (["--start", "2023-01-01", "--end", "2024-01-02"], "367 days, more than 366: pass --force"),
        (["--start", "2024-03-07", "--end", "7 March"], "ISO dates"),
    ],
)
def test_a_backwards_overlong_or_malformed_range_exits_2_with_the_reason(
    arguments: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*_: object, **__: object) -> None:
        raise AssertionError("a refused range must not start a backfill")

    monkeypatch.setattr("lakehouse_events.product.run_backfill", must_not_run)
    result = CliRunner().invoke(product_cli(WEB), ["backfill", *arguments])

    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_a_year_is_allowed_and_more_only_with_force() -> None:
    assert day_range("2024-01-01", "2024-12-31").days == 366
    with pytest.raises(BackfillRangeError, match="367 days"):
        day_range("2024-01-01", "2025-01-01")
    assert day_range("2024-01-01", "2025-01-01", force=True).partition == "2024-01-01..2025-01-01"


def test_chunks_cover_the_range_once_in_order() -> None:
    days = DayRange(date(2024, 3, 1), date(2024, 3, 10))

    assert list(days.chunks(4)) == [
        (date(2024, 3, 1), date(2024, 3, 4)),
        (date(2024, 3, 5), date(2024, 3, 8)),
        (date(2024, 3, 9), date(2024, 3, 10)),
    ]
    assert list(DayRange(date(2024, 3, 1), date(2024, 3, 1)).chunks(7)) == [(date(2024, 3, 1),) * 2]


def test_days_are_named_as_spans_of_consecutive_days() -> None:
    days = [date(2024, 3, d) for d in (1, 2, 3, 5, 8, 9)]

    assert spans(days) == ["2024-03-01..2024-03-03", "2024-03-05", "2024-03-08..2024-03-09"]
