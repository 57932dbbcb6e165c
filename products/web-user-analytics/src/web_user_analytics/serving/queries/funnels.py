"""A configured funnel over a date range: sessions per step summed, conversions recomputed."""

from __future__ import annotations

import pyarrow.compute as pc

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import between, ratio
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from web_user_analytics.config import FunnelConfig
from web_user_analytics.serving.models import FunnelReport, FunnelStepTotal


def funnel_report(table: ServedTable, funnel: FunnelConfig, dates: DateRange) -> FunnelReport:
    """Every step of the funnel as configured now. Gold rows count towards a step when both its
    index (from 1) and its name (the alternatives joined with `` | ``) match, so rows written
    under an earlier definition are not mixed in; a step without rows has 0 sessions.

    Conversions are ratios of the summed sessions, not averages of the daily ratios.
    """
    steps = tuple(funnel.step_names)

    def compute(reader: DeltaReader) -> FunnelReport:
        rows = reader.read(
            columns=["step_index", "step_name", "sessions"],
            filter=between("date", dates.start, dates.end) & (pc.field("funnel") == funnel.name),
        )
        summed = (
            rows.group_by(["step_index", "step_name"], use_threads=False)
            .aggregate([("sessions", "sum")])
            .to_pylist()
        )
        sessions_by_step = {(row["step_index"], row["step_name"]): row["sessions_sum"] for row in summed}
        sessions = [sessions_by_step.get((index, name), 0) for index, name in enumerate(steps, start=1)]
        return FunnelReport(
            funnel=funnel.name,
            start=dates.start,
            end=dates.end,
            window_minutes=funnel.window_minutes,
            steps=[
                FunnelStepTotal(
                    step_index=position + 1,
                    step_name=name,
                    alternatives=funnel.steps[position],
                    sessions=sessions[position],
                    conversion_from_start=ratio(sessions[position], sessions[0]),
                    conversion_from_previous=ratio(sessions[position], sessions[max(position - 1, 0)]),
                )
                for position, name in enumerate(steps)
            ],
        )

    return table.query(("funnel", funnel.name, steps, funnel.window_minutes, dates), compute)
