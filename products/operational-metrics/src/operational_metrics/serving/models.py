"""Response models the tables' contracts do not give directly."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from lakehouse_core.platform_topics import AttemptStatus
from operational_metrics.contracts import FreshnessState, RunAttempt, TableFreshness


class PipelineRunDetail(BaseModel):
    """One pipeline run: its product, outcome and every attempt of its tasks."""

    run_id: str
    product: str
    status: AttemptStatus = Field(
        description="failed when a task's final attempt failed, else succeeded (skipped when nothing ran)."
    )
    started_at: datetime
    finished_at: datetime
    attempts: list[RunAttempt] = Field(description="Every attempt, in the order they started.")


class FreshnessNow(TableFreshness):
    """A table's freshness now: the newest data the last check found, aged to the request time."""

    as_of: datetime = Field(description="When the age and state were computed (the request time).")
    last_state: FreshnessState = Field(description="The state at the last check (checked_at).")


class IncidentSummary(BaseModel):
    """One product's incidents overlapping a date range: how many, and how fast they were
    detected and recovered from."""

    product: str
    incidents: int
    open_incidents: int
    asset_failing: int = Field(description="Incidents of kind asset_failing.")
    sla_breach: int = Field(description="Incidents of kind sla_breach.")
    mean_time_to_detect_seconds: float = Field(description="Mean over all its incidents.")
    max_time_to_detect_seconds: float
    mean_time_to_recover_seconds: float | None = Field(description="Mean over the closed ones; null if none.")
    max_time_to_recover_seconds: float | None
