"""Counts that must agree across an event product's layers: nothing accepted is lost, nothing
is doubled.

``kafka`` records on the events topic = ``bronze`` rows = ``silver`` events + ``quarantine``
rows (malformed records and duplicates of an already stored event id both land in quarantine,
with their reason). Read with delta-rs: no Spark needed to check.
"""

from __future__ import annotations

from pydantic import BaseModel, computed_field

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.kafka.admin import topic_record_count
from lakehouse_core.tables import TableSpec


class Reconciliation(BaseModel):
    kafka: int
    bronze: int
    silver: int
    quarantine: int
    sessions: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def balanced(self) -> bool:
        return self.kafka == self.bronze == self.silver + self.quarantine


def row_count(spec: TableSpec, lake_root: str) -> int:
    """Rows in the table (0 when it does not exist yet), reading one narrow column."""
    try:
        return int(read_arrow(spec.location(lake_root), columns=[spec.schema.fieldNames()[0]]).num_rows)
    except TableNotFoundError:
        return 0


def reconcile(
    *,
    topic: str,
    bronze: TableSpec,
    silver: TableSpec,
    quarantine: TableSpec,
    sessions: TableSpec,
    bootstrap_servers: str,
    lake_root: str,
) -> Reconciliation:
    return Reconciliation(
        kafka=topic_record_count(bootstrap_servers, topic),
        bronze=row_count(bronze, lake_root),
        silver=row_count(silver, lake_root),
        quarantine=row_count(quarantine, lake_root),
        sessions=row_count(sessions, lake_root),
    )
