"""The tables of operational-metrics, each defined once as a pydantic model: the Spark schema,
the Arrow schema the API reads with, the API's response models and the catalog's column
descriptions all derive from these. The input contract is the platform's
:class:`~lakehouse_core.platform_topics.PipelineRunRecord`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from lakehouse_core.platform_topics import AttemptStatus

FreshnessState = Literal["ok", "warn", "breach", "missing"]
DataTimeSource = Literal["commit", "partition", "none"]
IncidentKind = Literal["asset_failing", "sla_breach"]
IncidentStatus = Literal["open", "closed"]
CompliancePeriod = Literal["day", "month"]
AnomalyMetric = Literal["rows_written", "duration_seconds", "quarantine_rate", "cost"]
AnomalyDirection = Literal["drop", "spike"]


class RunAttempt(BaseModel):
    """Silver: one attempt of one asset of a product's pipeline run, typed from its
    ``platform.pipeline_runs.v1`` record; one row per ``record_id`` (a re-sent record counts once)."""

    record_id: str = Field(description="The record's id, kept when it is re-sent.")
    product: str
    asset: str = Field(description="The asset (task) that ran.")
    run_id: str = Field(description="The pipeline run the attempt belongs to.")
    partition: str | None = Field(
        default=None, description="The partition the attempt computed (a day, or D1..D2 for a backfill)."
    )
    partition_end: date | None = Field(
        default=None,
        description="The last day of ``partition`` when it names days; null otherwise (an incremental run).",
    )
    attempt: int = Field(description="1 for the first attempt; 0 for a task skipped without running.")
    final_attempt: bool = Field(description="False when the attempt failed and the task was retried.")
    status: AttemptStatus
    started_at: datetime
    finished_at: datetime
    run_date: date = Field(description="UTC date of started_at; the partition column.")
    duration_seconds: float = Field(description="finished_at - started_at.")
    rows_read: int = Field(description="Rows read, summed over the tables the record names.")
    rows_written: int = Field(description="Rows written, summed over the tables the record names.")
    rows_quarantined: int = Field(description="Rows sent to quarantine, summed over the rules.")
    rows_read_by_table: dict[str, int]
    rows_written_by_table: dict[str, int]
    delta_versions: dict[str, int] = Field(description="The Delta version the attempt committed, by table.")
    rows_quarantined_by_rule: dict[str, int]
    cpu_seconds: float
    peak_memory_bytes: int
    error_class: str | None = None
    error_message: str | None = None
    source_partition: int = Field(description="Kafka partition of the record, as bronze stored it.")
    source_offset: int = Field(description="Kafka offset of the record, as bronze stored it.")


class RunStats(BaseModel):
    """Gold: the runs of one asset of one product on one UTC day (by each attempt's start)."""

    date: date
    product: str
    asset: str
    runs: int = Field(description="Tasks that ended that day: final attempts that succeeded or failed.")
    successes: int = Field(description="Final attempts that succeeded.")
    failures: int = Field(description="Final attempts that failed: the task failed after its retries.")
    attempts: int = Field(description="Attempts that ran (first attempts and retries; skipped excluded).")
    failed_attempts: int = Field(description="Attempts that failed, retried or not.")
    retries: int = Field(description="Attempts after the first (attempt > 1).")
    skipped: int = Field(description="Tasks skipped because an upstream task failed.")
    duration_p50_seconds: float | None = Field(
        description="Median attempt duration (linear interpolation); null without attempts."
    )
    duration_p95_seconds: float | None
    duration_max_seconds: float | None
    rows_read: int
    rows_written: int
    rows_quarantined: int
    quarantine_rate: float | None = Field(
        description="rows_quarantined / rows_read; null when nothing was read."
    )


class TableFreshness(BaseModel):
    """Gold: one check of one catalogued table's freshness against its SLA."""

    checked_at: datetime
    check_date: date = Field(description="UTC date of checked_at; the partition column.")
    table_name: str = Field(description="The table's qualified name, <product>.<layer>.<table>.")
    product: str
    layer: str
    newest_version: int | None = Field(description="The table's newest Delta version; null when not built.")
    newest_commit_at: datetime | None = Field(description="Time of the newest Delta commit.")
    newest_data_at: datetime | None = Field(
        description="Time of the newest data: the newest commit that was not a backfill of older "
        "days, or the end of the days a backfill recomputed (docs/METRICS.md)."
    )
    data_time_source: DataTimeSource = Field(
        description="commit: newest_data_at is a commit time; partition: the end of a recomputed "
        "day range; none: no data."
    )
    age_seconds: float | None = Field(description="checked_at - newest_data_at.")
    warn_minutes: int
    breach_minutes: int
    state: FreshnessState


class Incident(BaseModel):
    """Gold: one incident, an asset whose final attempt failed (``asset_failing``) or a table whose
    freshness breached its SLA (``sla_breach``), from the event that opened it to the one that
    closed it (docs/METRICS.md)."""

    incident_id: str = Field(
        description="<kind>:<product>/<asset or table>:<opened_at>; stable when recomputed."
    )
    kind: IncidentKind
    product: str
    asset: str | None = Field(description="The failing asset; null for an SLA breach.")
    table_name: str | None = Field(description="The breaching table; null for a failing asset.")
    started_at: datetime = Field(
        description="When the problem began: the first failed attempt of the failing task, or the "
        "moment the table's data became breach_minutes old."
    )
    opened_at: datetime = Field(
        description="When it was detected: the task's final failed attempt ended, or the check that "
        "first saw the breach."
    )
    opened_date: date = Field(description="UTC date of opened_at; the partition column.")
    closed_at: datetime | None = Field(
        description="The next successful final attempt ended, or the next check in state ok; null while open."
    )
    status: IncidentStatus
    time_to_detect_seconds: float = Field(description="opened_at - started_at.")
    time_to_recover_seconds: float | None = Field(description="closed_at - opened_at; null while open.")
    occurrences: int = Field(description="Failed final attempts, or breaching checks, while it was open.")
    run_id: str | None = Field(description="The run whose final attempt opened it; null for an SLA breach.")
    detail: str | None = Field(description="The opening failure's error, or the breaching age and SLA.")


class SlaCompliance(BaseModel):
    """Gold: one catalogued table's freshness checks over one UTC day or month, by SLA state."""

    month: date = Field(description="First day of the month the period falls in; the partition column.")
    period: CompliancePeriod
    period_start: date = Field(description="The day, or the first day of the month.")
    table_name: str
    product: str
    layer: str
    warn_minutes: int = Field(description="The SLA at the period's last check.")
    breach_minutes: int
    checks: int = Field(description="Freshness checks of the table in the period.")
    ok_checks: int
    warn_checks: int
    breach_checks: int
    missing_checks: int
    ok_share: float | None = Field(description="ok_checks / (checks - missing_checks); null without data.")
    warn_share: float | None
    breach_share: float | None
    compliance: float | None = Field(
        description="Share of the checks with data that were not in breach: (ok + warn) / (checks - missing)."
    )


class AssetCost(BaseModel):
    """Gold: what the attempts of one asset of one product cost on one UTC day (by each attempt's
    start), priced from each attempt's own measurements (docs/METRICS.md, "Cost")."""

    date: date
    product: str
    asset: str
    attempts: int = Field(description="Attempts that ran (first attempts and retries; skipped excluded).")
    cpu_seconds: float = Field(description="CPU seconds the attempts' own processes measured, summed.")
    peak_memory_bytes: int = Field(description="The highest peak memory of the attempts.")
    memory_gb_hours: float = Field(description="Sum over attempts of peak memory (GB) x duration (hours).")
    bytes_written: int = Field(
        description="Bytes the attempts' committed Delta versions added (from the Delta log); 0 "
        "when a version is no longer in the table's history."
    )
    rows_written: int
    cpu_cost: float = Field(description="cpu_seconds / 3600 x cost.core_hour.")
    memory_cost: float = Field(description="memory_gb_hours x cost.gb_hour_memory.")
    storage_cost: float = Field(
        description="bytes_written in GB x cost.gb_month_storage: a month of storage."
    )
    cost: float = Field(description="cpu_cost + memory_cost + storage_cost.")
    cost_per_1000_rows: float | None = Field(
        description="cost / rows_written x 1000; null when no row was written."
    )


class Anomaly(BaseModel):
    """Gold: one run of an asset whose metric fell outside its seasonal baseline: the median of
    the asset's earlier runs at the same weekday and hour, with a robust spread (docs/METRICS.md,
    "Anomalies")."""

    run_date: date = Field(description="UTC date of the run's start; the partition column.")
    product: str
    asset: str
    run_id: str
    record_id: str = Field(description="The attempt scored (a succeeded attempt).")
    started_at: datetime
    metric: AnomalyMetric
    observed: float
    expected: float = Field(description="The baseline's median.")
    low: float = Field(description="Lowest value not flagged: expected - threshold x spread (at least 0).")
    high: float = Field(description="Highest value not flagged: expected + threshold x spread.")
    score: float = Field(
        description="Robust z: (observed - expected) / spread; spread = 1.4826 x MAD, floored."
    )
    direction: AnomalyDirection
    training_runs: int = Field(description="Earlier runs in the baseline (incident windows excluded).")
