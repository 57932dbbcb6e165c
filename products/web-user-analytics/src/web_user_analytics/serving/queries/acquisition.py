"""Sessions by traffic source, medium, campaign or referrer host over a date range."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import between, ratio, weighted_by
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from web_user_analytics.serving.models import AcquisitionGroup

AcquisitionDimension = Literal["source", "medium", "campaign", "referrer_host"]


def acquisition(table: ServedTable, dates: DateRange, *, group_by: AcquisitionDimension) -> list[BaseModel]:
    """One row per value of ``group_by``, most sessions first (ties by value); callers paginate."""

    def compute(reader: DeltaReader) -> list[BaseModel]:
        rows = reader.read(filter=between("date", dates.start, dates.end))
        rows = weighted_by(rows, "bounce_rate", "sessions", name="bounces")
        sums = ["sessions", "visitors", "page_views", "bounces", "bounces_weight"]
        grouped = (
            rows.group_by(group_by, use_threads=False)
            .aggregate([(column, "sum") for column in sums])
            .sort_by([("sessions_sum", "descending"), (group_by, "ascending")])
        )
        return [
            AcquisitionGroup(
                group=row[group_by],
                sessions=row["sessions_sum"],
                visitor_days=row["visitors_sum"],
                page_views=row["page_views_sum"],
                bounce_rate=ratio(row["bounces_sum"], row["bounces_weight_sum"]),
            )
            for row in grouped.to_pylist()
        ]

    return table.query(("acquisition", dates, group_by), compute)
