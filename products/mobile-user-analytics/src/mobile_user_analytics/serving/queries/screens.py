"""Screens and screen-to-screen steps over a date range."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import SortOrder, between, summed, to_models, where
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from mobile_user_analytics.serving.models import ScreenSummary, ScreenTransitionTotal

ScreenOrder = Literal["views", "devices", "entries", "exits"]

_SUMS = ["views", "devices", "entries", "exits"]
_RENAMED = {"devices": "device_days"}


def top_screens(table: ServedTable, dates: DateRange, *, order_by: ScreenOrder) -> list[BaseModel]:
    """Every screen of the range, highest ``order_by`` first (ties by name); callers paginate.
    Views, devices, entries and exits are summed; the average time is weighted by views."""

    def compute(reader: DeltaReader) -> list[BaseModel]:
        rows = reader.read(filter=between("date", dates.start, dates.end))
        totals = summed(rows, ["screen_name"], _SUMS, means={"avg_seconds_on_screen": "views"})
        totals = totals.rename_columns(_RENAMED)
        order_column = _RENAMED.get(order_by, order_by)
        return to_models(totals, ScreenSummary, [(order_column, "descending"), ("screen_name", "ascending")])

    return table.query(("screens", dates, order_by), compute)


def screen_transitions(table: ServedTable, dates: DateRange, *, from_screen: str | None) -> list[BaseModel]:
    """Steps between screens over the range (only those leaving ``from_screen`` when given), most
    frequent first (ties by from, then to screen); callers paginate."""

    def compute(reader: DeltaReader) -> list[BaseModel]:
        rows = reader.read(
            filter=where(between("date", dates.start, dates.end), {"from_screen": from_screen})
        )
        totals = summed(rows, ["from_screen", "to_screen"], ["transitions"])
        order: SortOrder = [
            ("transitions", "descending"),
            ("from_screen", "ascending"),
            ("to_screen", "ascending"),
        ]
        return to_models(totals, ScreenTransitionTotal, order)

    return table.query(("transitions", dates, from_screen), compute)
