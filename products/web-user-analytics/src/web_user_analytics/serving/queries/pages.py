"""Pages over a date range, ordered by a chosen metric."""

from __future__ import annotations

from typing import Literal

import pyarrow.compute as pc
from pydantic import BaseModel

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import between, weighted_by
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from web_user_analytics.serving.models import PageSummary

PageOrder = Literal["views", "unique_visitors", "entrances", "exits"]

_SUMS = ["views", "unique_visitors", "entrances", "exits", "time", "time_weight"]


def top_pages(table: ServedTable, dates: DateRange, *, order_by: PageOrder) -> list[BaseModel]:
    """Every page of the range, best first by ``order_by`` (ties by path); callers paginate.

    A day's average time on page covers only its views followed by another page view in the
    session, views - exits; the range's average weights each day's by that count.
    """

    def compute(reader: DeltaReader) -> list[BaseModel]:
        rows = reader.read(filter=between("date", dates.start, dates.end))
        rows = rows.append_column("timed_views", pc.subtract(rows["views"], rows["exits"]))
        rows = weighted_by(rows, "avg_time_on_page_seconds", "timed_views", name="time")
        grouped = (
            rows.group_by("page_path", use_threads=False)
            .aggregate([(column, "sum") for column in _SUMS])
            .sort_by([(f"{order_by}_sum", "descending"), ("page_path", "ascending")])
        )
        return [
            PageSummary(
                page_path=row["page_path"],
                views=row["views_sum"],
                visitor_days=row["unique_visitors_sum"],
                entrances=row["entrances_sum"],
                exits=row["exits_sum"],
                avg_time_on_page_seconds=row["time_sum"] / row["time_weight_sum"]
                if row["time_weight_sum"]
                else None,
            )
            for row in grouped.to_pylist()
        ]

    return table.query(("pages", dates, order_by), compute)
