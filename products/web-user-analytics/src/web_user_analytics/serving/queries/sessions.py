"""One pseudonymous visitor's sessions, from silver."""

from __future__ import annotations

import pyarrow.compute as pc

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import between
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from web_user_analytics.contracts import WebSession


def visitor_sessions(table: ServedTable, visitor_id: str, dates: DateRange) -> list[WebSession]:
    """Sessions that started in the range, newest first; callers paginate."""

    def compute(reader: DeltaReader) -> list[WebSession]:
        rows = reader.read(
            filter=between("session_date", dates.start, dates.end) & (pc.field("visitor_id") == visitor_id)
        )
        ordered = rows.sort_by([("started_at", "descending"), ("session_id", "ascending")])
        return [WebSession.model_validate(row) for row in ordered.to_pylist()]

    return table.query(("visitor_sessions", visitor_id, dates), compute)
