"""One pseudonymous device: its dimension row (gold) and its sessions (silver)."""

from __future__ import annotations

import pyarrow.compute as pc

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.serving.arrow import between, to_models, where
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from mobile_user_analytics.contracts import AppSession, DeviceDimension


def device(table: ServedTable, device_key: str) -> DeviceDimension | None:
    """The device's row, or None when the device is unknown."""

    def compute(reader: DeltaReader) -> DeviceDimension | None:
        rows = reader.read(filter=pc.field("device_key") == device_key).to_pylist()
        return DeviceDimension.model_validate(rows[0]) if rows else None

    return table.query(("device", device_key), compute)


def device_sessions(table: ServedTable, device_key: str, dates: DateRange) -> list[AppSession]:
    """Sessions of the device that started in the range, newest first; callers paginate."""

    def compute(reader: DeltaReader) -> list[AppSession]:
        rows = reader.read(
            filter=where(between("session_date", dates.start, dates.end), {"device_key": device_key})
        )
        return to_models(rows, AppSession, [("started_at", "descending"), ("session_id", "ascending")])

    return table.query(("device_sessions", device_key, dates), compute)
