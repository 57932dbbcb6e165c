"""Gold rows of a date range as stored, narrowed by dimension values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import SortOrder, between, to_models, where
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable

ModelT = TypeVar("ModelT", bound=BaseModel)


def daily_rows(
    table: ServedTable,
    model: type[ModelT],
    dates: DateRange,
    *,
    equal: Mapping[str, str | None],
    order: SortOrder,
    date_column: str = "date",
) -> list[ModelT]:
    """The rows whose ``date_column`` lies in ``dates`` and whose columns equal ``equal`` (a None
    value leaves its column unfiltered), sorted by ``order``."""

    def compute(reader: DeltaReader) -> list[ModelT]:
        rows = reader.read(filter=where(between(date_column, dates.start, dates.end), equal))
        return to_models(rows, model, order)

    return table.query((model.__name__, dates, tuple(equal.items()), tuple(order)), compute)
