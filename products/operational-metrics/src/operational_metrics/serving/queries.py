"""The queries behind the API, on Arrow tables read through delta-rs (no JVM).

The freshness of a table *now* is the newest data the last check found (the newest freshness
snapshot), aged to the time of the request, so it keeps ageing between pipeline runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.platform_topics import AttemptStatus
from lakehouse_core.serving.arrow import between, where
from lakehouse_core.serving.params import DateRange
from lakehouse_core.serving.tables import ServedTable
from operational_metrics.contracts import (
    Anomaly,
    AnomalyMetric,
    AssetCost,
    CompliancePeriod,
    FreshnessState,
    Incident,
    IncidentKind,
    IncidentStatus,
    RunAttempt,
    RunStats,
    SlaCompliance,
    TableFreshness,
)
from operational_metrics.serving.models import FreshnessNow, IncidentSummary, PipelineRunDetail

ModelT = TypeVar("ModelT", bound=BaseModel)
MAP_COLUMNS = ("rows_read_by_table", "rows_written_by_table", "delta_versions", "rows_quarantined_by_rule")


def _models(rows: Iterable[Mapping[str, Any]], model: type[ModelT]) -> list[ModelT]:
    """Rows as ``model``; Arrow map columns (lists of key/value pairs) become dicts."""
    return [
        model.model_validate(
            {k: dict(v) if k in MAP_COLUMNS and v is not None else v for k, v in row.items()}
        )
        for row in rows
    ]


def runs(
    table: ServedTable,
    dates: DateRange,
    *,
    product: str | None,
    asset: str | None,
    status: str | None,
) -> list[RunAttempt]:
    """Attempts started in the range (UTC days), newest first."""
    condition = where(
        between("run_date", dates.start, dates.end), {"product": product, "asset": asset, "status": status}
    )

    def compute(reader: DeltaReader) -> list[RunAttempt]:
        found = reader.read(filter=condition).sort_by(
            [("started_at", "descending"), ("record_id", "ascending")]
        )
        return _models(found.to_pylist(), RunAttempt)

    return table.query(("runs", dates, product, asset, status), compute)


def pipeline_run(table: ServedTable, run_id: str) -> PipelineRunDetail | None:
    """The run's attempts; None when no attempt of it is stored."""

    def compute(reader: DeltaReader) -> PipelineRunDetail | None:
        found = reader.read(filter=pc.field("run_id") == run_id).sort_by(
            [("started_at", "ascending"), ("attempt", "ascending"), ("record_id", "ascending")]
        )
        attempts = _models(found.to_pylist(), RunAttempt)
        if not attempts:
            return None
        final = [a for a in attempts if a.final_attempt and a.status != "skipped"]
        status: AttemptStatus = "skipped"
        if final:
            status = "failed" if any(a.status == "failed" for a in final) else "succeeded"
        return PipelineRunDetail(
            run_id=run_id,
            product=attempts[0].product,
            status=status,
            started_at=min(a.started_at for a in attempts),
            finished_at=max(a.finished_at for a in attempts),
            attempts=attempts,
        )

    return table.query(("run", run_id), compute)


def run_stats(
    table: ServedTable, dates: DateRange, *, product: str | None, asset: str | None
) -> list[RunStats]:
    """By date, product and asset."""
    condition = where(between("date", dates.start, dates.end), {"product": product, "asset": asset})

    def compute(reader: DeltaReader) -> list[RunStats]:
        found = reader.read(filter=condition).sort_by(
            [("date", "ascending"), ("product", "ascending"), ("asset", "ascending")]
        )
        return _models(found.to_pylist(), RunStats)

    return table.query(("run_stats", dates, product, asset), compute)


def latest_freshness(table: ServedTable) -> list[TableFreshness]:
    """The rows of the newest freshness check."""

    def compute(reader: DeltaReader) -> list[TableFreshness]:
        days = reader.read(columns=["check_date"])
        if days.num_rows == 0:
            return []
        newest_day = pc.max(days["check_date"]).as_py()
        found = reader.read(filter=pc.field("check_date") == pa.scalar(newest_day, pa.date32()))
        newest = pc.max(found["checked_at"])
        found = found.filter(pc.equal(found["checked_at"], newest)).sort_by([("table_name", "ascending")])
        return _models(found.to_pylist(), TableFreshness)

    return table.query(("freshness",), compute)


def state_of(age_seconds: float | None, *, warn_minutes: int, breach_minutes: int) -> FreshnessState:
    """The SLA state of data ``age_seconds`` old (docs/METRICS.md)."""
    if age_seconds is None:
        return "missing"
    if age_seconds >= breach_minutes * 60:
        return "breach"
    if age_seconds >= warn_minutes * 60:
        return "warn"
    return "ok"


def aged(row: TableFreshness, now: datetime) -> FreshnessNow:
    """``row`` with its age and state as of ``now``."""
    age = (now - row.newest_data_at).total_seconds() if row.newest_data_at else None
    state = state_of(age, warn_minutes=row.warn_minutes, breach_minutes=row.breach_minutes)
    return FreshnessNow.model_validate(
        {**row.model_dump(), "age_seconds": age, "state": state, "last_state": row.state, "as_of": now}
    )


def freshness_now(
    table: ServedTable,
    now: datetime,
    *,
    product: str | None = None,
    layer: str | None = None,
    state: FreshnessState | None = None,
) -> list[FreshnessNow]:
    rows = [
        aged(r, now)
        for r in latest_freshness(table)
        if product in (None, r.product) and layer in (None, r.layer)
    ]
    return [r for r in rows if state in (None, r.state)]


def recent_final_attempts(table: ServedTable, today: date, *, days: int) -> list[RunAttempt]:
    """Final attempts (not skipped) started in the ``days`` UTC days up to ``today``."""
    condition = between("run_date", today - timedelta(days=days - 1), today) & pc.field("final_attempt")

    def compute(reader: DeltaReader) -> list[RunAttempt]:
        found = reader.read(filter=condition)
        return [a for a in _models(found.to_pylist(), RunAttempt) if a.status != "skipped"]

    return table.query(("recent_final", today, days), compute)


def incidents(
    table: ServedTable,
    dates: DateRange,
    *,
    product: str | None = None,
    asset: str | None = None,
    table_name: str | None = None,
    kind: IncidentKind | None = None,
    status: IncidentStatus | None = None,
) -> list[Incident]:
    """Incidents open at some time in the range (opened on or before its last day, and still
    open or closed on or after its first day), newest first."""
    since = pa.scalar(datetime.combine(dates.start, time(), tzinfo=UTC), pa.timestamp("us", "UTC"))
    closed = pc.field("closed_at")
    condition = where(
        pc.field("opened_date") <= pa.scalar(dates.end, pa.date32()),
        {"product": product, "asset": asset, "table_name": table_name, "kind": kind, "status": status},
    ) & (closed.is_null() | (closed >= since))

    def compute(reader: DeltaReader) -> list[Incident]:
        found = reader.read(filter=condition).sort_by(
            [("opened_at", "descending"), ("incident_id", "ascending")]
        )
        return _models(found.to_pylist(), Incident)

    return table.query(("incidents", dates, product, asset, table_name, kind, status), compute)


def open_incidents(table: ServedTable) -> list[Incident]:
    """Every incident not closed yet."""

    def compute(reader: DeltaReader) -> list[Incident]:
        return _models(reader.read(filter=pc.field("status") == "open").to_pylist(), Incident)

    return table.query(("open_incidents",), compute)


def incident_products(table: ServedTable) -> list[str]:
    """Every product with a stored incident."""

    def compute(reader: DeltaReader) -> list[str]:
        return sorted(set(reader.read(columns=["product"])["product"].to_pylist()))

    return table.query(("incident_products",), compute)


def incident_summary(found: Iterable[Incident]) -> list[IncidentSummary]:
    """Per product, by product name."""
    by_product: dict[str, list[Incident]] = defaultdict(list)
    for each in found:
        by_product[each.product].append(each)
    summaries = []
    for product, items in sorted(by_product.items()):
        detect = [i.time_to_detect_seconds for i in items]
        recover = [i.time_to_recover_seconds for i in items if i.time_to_recover_seconds is not None]
        summaries.append(
            IncidentSummary(
                product=product,
                incidents=len(items),
                open_incidents=sum(1 for i in items if i.status == "open"),
                asset_failing=sum(1 for i in items if i.kind == "asset_failing"),
                sla_breach=sum(1 for i in items if i.kind == "sla_breach"),
                mean_time_to_detect_seconds=sum(detect) / len(detect),
                max_time_to_detect_seconds=max(detect),
                mean_time_to_recover_seconds=sum(recover) / len(recover) if recover else None,
                max_time_to_recover_seconds=max(recover) if recover else None,
            )
        )
    return summaries


def sla_compliance(
    table: ServedTable,
    dates: DateRange,
    *,
    period: CompliancePeriod,
    product: str | None = None,
    table_name: str | None = None,
) -> list[SlaCompliance]:
    """The day rows with ``period_start`` in the range, or the month rows of the months the
    range touches; by period start and table."""
    first = dates.start.replace(day=1) if period == "month" else dates.start
    condition = where(
        between("month", dates.start.replace(day=1), dates.end) & between("period_start", first, dates.end),
        {"period": period, "product": product, "table_name": table_name},
    )

    def compute(reader: DeltaReader) -> list[SlaCompliance]:
        found = reader.read(filter=condition)
        found = found.sort_by([("period_start", "ascending"), ("table_name", "ascending")])
        return _models(found.to_pylist(), SlaCompliance)

    return table.query(("sla_compliance", dates, period, product, table_name), compute)


def cost(table: ServedTable, dates: DateRange, *, product: str | None, asset: str | None) -> list[AssetCost]:
    """By date, product and asset."""
    condition = where(between("date", dates.start, dates.end), {"product": product, "asset": asset})

    def compute(reader: DeltaReader) -> list[AssetCost]:
        found = reader.read(filter=condition).sort_by(
            [("date", "ascending"), ("product", "ascending"), ("asset", "ascending")]
        )
        return _models(found.to_pylist(), AssetCost)

    return table.query(("cost", dates, product, asset), compute)


def anomalies(
    table: ServedTable,
    dates: DateRange,
    *,
    product: str | None = None,
    asset: str | None = None,
    metric: AnomalyMetric | None = None,
) -> list[Anomaly]:
    """Anomalies of runs started in the range (UTC days), newest first."""
    condition = where(
        between("run_date", dates.start, dates.end), {"product": product, "asset": asset, "metric": metric}
    )

    def compute(reader: DeltaReader) -> list[Anomaly]:
        found = reader.read(filter=condition).sort_by(
            [("started_at", "descending"), ("record_id", "ascending"), ("metric", "ascending")]
        )
        return _models(found.to_pylist(), Anomaly)

    return table.query(("anomalies", dates, product, asset, metric), compute)


def recent_anomalies(table: ServedTable, today: date, *, days: int) -> list[Anomaly]:
    """Anomalies of runs started in the ``days`` UTC days up to ``today``."""
    return anomalies(table, DateRange(today - timedelta(days=days - 1), today))
