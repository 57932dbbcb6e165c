"""Traffic per day, or per week (starting Monday) or month (starting the 1st)."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import between, ratio, weighted_by
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from web_user_analytics.contracts import DailyTraffic
from web_user_analytics.serving.models import TrafficPeriod

Granularity = Literal["day", "week", "month"]

_DIMENSIONS = ["device_type", "country"]
_ORDER = [(dimension, "ascending") for dimension in _DIMENSIONS]


def traffic(
    table: ServedTable, dates: DateRange, *, granularity: Granularity, device_type: str, country: str
) -> list[BaseModel]:
    def compute(reader: DeltaReader) -> list[BaseModel]:
        rows = reader.read(
            filter=between("date", dates.start, dates.end)
            & (pc.field("device_type") == device_type)
            & (pc.field("country") == country)
        )
        if granularity == "day":
            ordered = rows.sort_by(
                [("date", "ascending"), ("device_type", "ascending"), ("country", "ascending")]
            )
            return [DailyTraffic.model_validate(row) for row in ordered.to_pylist()]
        return _periods(rows, granularity)

    return table.query(("traffic", dates, granularity, device_type, country), compute)


def _periods(rows: pa.Table, granularity: Literal["week", "month"]) -> list[BaseModel]:
    rows = rows.append_column(
        "period_start", pc.floor_temporal(rows["date"], unit=granularity, week_starts_monday=True)
    )
    rows = weighted_by(rows, "bounce_rate", "sessions", name="bounces")
    rows = weighted_by(rows, "avg_session_duration_seconds", "sessions", name="duration")
    sums = ["visitors", "sessions", "page_views", "bounces", "bounces_weight", "duration", "duration_weight"]
    grouped = (
        rows.group_by(["period_start", *_DIMENSIONS], use_threads=False)
        .aggregate([(column, "sum") for column in sums])
        .sort_by([("period_start", "ascending"), *_ORDER])
    )
    return [
        TrafficPeriod(
            period_start=row["period_start"],
            device_type=row["device_type"],
            country=row["country"],
            visitor_days=row["visitors_sum"],
            sessions=row["sessions_sum"],
            page_views=row["page_views_sum"],
            bounce_rate=ratio(row["bounces_sum"], row["bounces_weight_sum"]),
            avg_session_duration_seconds=ratio(row["duration_sum"], row["duration_weight_sum"]),
        )
        for row in grouped.to_pylist()
    ]
