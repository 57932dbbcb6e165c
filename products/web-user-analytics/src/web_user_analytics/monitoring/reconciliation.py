"""Counts that must agree across the layers: nothing accepted is lost, nothing is doubled.

``kafka`` records on the events topic = ``bronze`` rows = ``silver`` events + ``quarantine``
rows (malformed records and duplicates of an already stored ``messageId`` both land in
quarantine, with their reason). Read with delta-rs: no Spark needed to check.
"""

from __future__ import annotations

from pydantic import BaseModel

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.kafka.admin import topic_record_count
from lakehouse_core.tables import TableSpec
from web_user_analytics.config import WebConfig
from web_user_analytics.storage.tables import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS, SILVER_SESSIONS


class Reconciliation(BaseModel):
    kafka: int
    bronze: int
    silver: int
    quarantine: int
    sessions: int

    @property
    def balanced(self) -> bool:
        return self.kafka == self.bronze == self.silver + self.quarantine


def _rows(spec: TableSpec, lake_root: str, column: str) -> int:
    try:
        return read_arrow(spec.location(lake_root), columns=[column]).num_rows
    except TableNotFoundError:
        return 0


def reconcile(config: WebConfig, *, bootstrap_servers: str, lake_root: str) -> Reconciliation:
    return Reconciliation(
        kafka=topic_record_count(bootstrap_servers, config.topics["events"].name),
        bronze=_rows(BRONZE_EVENTS, lake_root, "offset"),
        silver=_rows(SILVER_EVENTS, lake_root, "event_id"),
        quarantine=_rows(QUARANTINE_EVENTS, lake_root, "source_offset"),
        sessions=_rows(SILVER_SESSIONS, lake_root, "session_id"),
    )
