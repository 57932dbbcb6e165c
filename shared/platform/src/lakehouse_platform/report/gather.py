"""What the platform report shows, read through the catalog and Delta only (delta-rs, no Spark,
no product imported).

- Each catalogued table's freshness: the commit time of its newest data commit (an operation of
  :data:`~lakehouse_platform.task_reports.ROWS_WRITTEN_METRICS`) against its SLA (its own
  ``Freshness``, else its layer's), as operational-metrics judges it: ``missing`` without a data
  commit, ``breach`` at the breach level or older, ``warn`` at the warn level or older, else ``ok``.
- Its rows at each of its newest versions, from the version's add actions (``numRecords``).
- Quality: each quarantine table against the silver table fed by the same bronze table: rows
  passed (the silver table's) and quarantined, by failed rule.
- Last runs: the silver table of ``platform.pipeline_runs.v1`` attempts when one is catalogued and
  built, else the run records still in the spool of ``<state_dir>``.
- API traffic per key: the silver table of ``platform.audit.v1`` records when one is catalogued
  and built.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from lakehouse_core.delta_reader import open_table, read_arrow
from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.kafka.spool import SEGMENT_SUFFIX, spool_folder
from lakehouse_core.platform_topics import AUDIT, PIPELINE_RUNS, PipelineRunRecord
from lakehouse_core.tables import KAFKA_UPSTREAM, LAYER_FRESHNESS, Layer
from lakehouse_platform.task_reports import ROWS_WRITTEN_METRICS

if TYPE_CHECKING:
    from deltalake import DeltaTable

    from lakehouse_platform.catalog import Catalog, CatalogEntry

log = logging.getLogger(__name__)

State = Literal["ok", "warn", "breach", "missing"]
RUN_COLUMNS = (
    "product",
    "asset",
    "run_id",
    "attempt",
    "final_attempt",
    "status",
    "started_at",
    "finished_at",
)
AUDIT_COLUMNS = ("service", "api_key_id", "action", "outcome", "occurred_at", "status_code")
OUTCOMES = ("succeeded", "denied", "invalid", "failed")
#: Commits searched for the newest data commit (as operational-metrics' freshness check does).
FRESHNESS_HISTORY = 500


@dataclass(frozen=True)
class VersionRows:
    version: int
    committed_at: datetime
    operation: str
    rows: int


@dataclass(frozen=True)
class TableState:
    name: str
    layer: str
    warn_minutes: int
    breach_minutes: int
    versions: tuple[VersionRows, ...] = ()
    """The newest versions, oldest first (empty when the table is not built)."""
    newest_data_at: datetime | None = None
    age_seconds: float | None = None
    state: State = "missing"

    @property
    def version(self) -> int | None:
        return self.versions[-1].version if self.versions else None

    @property
    def rows(self) -> int | None:
        return self.versions[-1].rows if self.versions else None

    @property
    def growth(self) -> int | None:
        """Rows the newest version added (against the version before it, or all of them for a
        first version); None when the version before it is not among those counted."""
        if not self.versions:
            return None
        newest, before = self.versions[-1], self.versions[-2] if len(self.versions) > 1 else None
        if before is not None and before.version == newest.version - 1:
            return newest.rows - before.rows
        return newest.rows if newest.version == 0 else None

    def freshness_row(self) -> dict[str, Any]:
        return {
            "table_name": self.name,
            "age_seconds": self.age_seconds,
            "state": self.state,
            "warn_minutes": self.warn_minutes,
            "breach_minutes": self.breach_minutes,
        }


@dataclass(frozen=True)
class QualityState:
    quarantine: str
    source: str
    passed: int
    quarantined: int
    by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def pass_rate(self) -> float | None:
        total = self.passed + self.quarantined
        return self.passed / total if total else None


@dataclass(frozen=True)
class ProductState:
    name: str
    owner: str
    tables: tuple[TableState, ...]
    quality: tuple[QualityState, ...]


@dataclass(frozen=True)
class LastRun:
    product: str
    asset: str
    run_id: str
    attempt: int
    status: str
    started_at: datetime
    finished_at: datetime
    error: str | None = None

    @property
    def duration_seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Runs:
    source: str
    last: tuple[LastRun, ...]

    def of(self, product: str) -> list[LastRun]:
        return [r for r in self.last if r.product == product]


@dataclass(frozen=True)
class KeyTraffic:
    service: str
    api_key_id: str | None
    requests: int
    succeeded: int
    denied: int
    invalid: int
    failed: int
    last_at: datetime


@dataclass(frozen=True)
class Traffic:
    source: str
    per_key: tuple[KeyTraffic, ...]

    def of(self, service: str) -> list[KeyTraffic]:
        return [t for t in self.per_key if t.service == service]


@dataclass(frozen=True)
class PlatformState:
    generated_at: datetime
    products: tuple[ProductState, ...]
    runs: Runs | None
    traffic: Traffic | None


def _open(location: str) -> DeltaTable | None:
    try:
        return open_table(location)
    except TableNotFoundError:
        return None


def _rows_at(table: DeltaTable, version: int) -> int | None:
    """Rows of ``version`` from its add actions' statistics (the files counted where a file has
    none); None, logged, when the version cannot be read (its log entry or files removed)."""
    from deltalake.exceptions import DeltaError

    try:
        table.load_as_version(version)
        counts = table.get_add_actions(flatten=True).column("num_records").to_pylist()
        if any(c is None for c in counts):
            return int(table.to_pyarrow_dataset().count_rows())
    except (DeltaError, OSError) as exc:
        log.warning(
            "table version unreadable; left out of the report",
            extra={"table": table.table_uri, "version": version, "error": str(exc)},
        )
        return None
    return int(sum(counts))


def table_state(entry: CatalogEntry, *, now: datetime, versions: int = 20) -> TableState:
    """``entry``'s freshness at ``now`` and its rows at each of its newest ``versions`` versions."""
    sla = entry.spec.freshness or LAYER_FRESHNESS[entry.layer]
    base = TableState(entry.qualified_name, entry.layer.value, sla.warn_minutes, sla.breach_minutes)
    table = _open(entry.location)
    if table is None:
        return base
    history: Sequence[dict[str, Any]] = table.history(max(versions, FRESHNESS_HISTORY))
    commits = sorted(history, key=lambda c: int(c["version"]))

    def committed_at(commit: dict[str, Any]) -> datetime:
        return datetime.fromtimestamp(int(commit["timestamp"]) / 1000, tz=UTC)

    counted = tuple(
        VersionRows(int(c["version"]), committed_at(c), str(c.get("operation", "")), rows)
        for c in commits[-versions:]
        if (rows := _rows_at(table, int(c["version"]))) is not None
    )
    data = [committed_at(c) for c in commits if c.get("operation") in ROWS_WRITTEN_METRICS]
    if not data:
        return replace(base, versions=counted)
    newest = max(data)
    age = (now - newest).total_seconds()
    state: State = (
        "breach" if age >= sla.breach_minutes * 60 else "warn" if age >= sla.warn_minutes * 60 else "ok"
    )
    return replace(base, versions=counted, newest_data_at=newest, age_seconds=age, state=state)


def _count(entry: CatalogEntry) -> int:
    table = _open(entry.location)
    return 0 if table is None else _rows_at(table, int(table.version())) or 0


def quality_state(quarantine: CatalogEntry, source: CatalogEntry) -> QualityState:
    by_rule: dict[str, int] = {}
    quarantined = 0
    try:
        failed = read_arrow(quarantine.location, columns=["failed_rules"]).column("failed_rules").to_pylist()
    except TableNotFoundError:
        failed = []
    for rules in failed:
        quarantined += 1
        for rule in rules or ():
            by_rule[rule] = by_rule.get(rule, 0) + 1
    return QualityState(
        quarantine.qualified_name, source.qualified_name, _count(source), quarantined, by_rule
    )


def checked_against(catalog: Catalog, quarantine: CatalogEntry) -> CatalogEntry | None:
    """The silver table refined from the same bronze table as ``quarantine``: a bronze row ends
    up in one or the other."""
    return next(
        (
            e
            for e in sorted(
                catalog.select(product=quarantine.product, layer=Layer.SILVER), key=lambda e: e.qualified_name
            )
            if set(e.upstream) & set(quarantine.upstream)
        ),
        None,
    )


def topic_records(catalog: Catalog, topic: str, columns: Iterable[str]) -> CatalogEntry | None:
    """The silver table with ``columns`` refined from a bronze table of ``topic``, if catalogued."""
    wanted = set(columns)
    bronze = {
        e.qualified_name
        for e in catalog.select(layer=Layer.BRONZE)
        if f"{KAFKA_UPSTREAM}{topic}" in e.upstream
    }
    return next(
        (
            e
            for e in sorted(catalog.select(layer=Layer.SILVER), key=lambda e: e.qualified_name)
            if set(e.upstream) & bronze and wanted <= {c.name for c in e.columns}
        ),
        None,
    )


def _last_runs(attempts: Iterable[dict[str, Any]]) -> tuple[LastRun, ...]:
    """Per product and asset, its newest task outcome (a final attempt or a skip)."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in attempts:
        if not row["final_attempt"] and row["status"] != "skipped":
            continue
        key = (row["product"], row["asset"])
        if key not in latest or row["started_at"] > latest[key]["started_at"]:
            latest[key] = row
    return tuple(
        LastRun(
            r["product"],
            r["asset"],
            r["run_id"],
            int(r["attempt"]),
            r["status"],
            r["started_at"],
            r["finished_at"],
            r.get("error_message"),
        )
        for _, r in sorted(latest.items())
    )


def spooled_runs(state_dir: Path) -> list[dict[str, Any]]:
    """The run records waiting in the spool of ``platform.pipeline_runs.v1`` (unsent, or left by
    a process that ended while Kafka was down); a line that is not a record is skipped."""
    rows: list[dict[str, Any]] = []
    folder = spool_folder(state_dir, PIPELINE_RUNS.name)
    for segment in sorted(folder.glob(f"*{SEGMENT_SUFFIX}")) if folder.is_dir() else ():
        for line in segment.read_bytes().splitlines():
            try:
                rows.append(PipelineRunRecord.model_validate_json(line).model_dump())
            except ValidationError:
                log.warning(
                    "spooled run record unreadable; left out of the report", extra={"segment": str(segment)}
                )
    return rows


def runs_state(catalog: Catalog, state_dir: Path) -> Runs | None:
    entry = topic_records(catalog, PIPELINE_RUNS.name, RUN_COLUMNS)
    if entry is not None:
        try:
            rows = read_arrow(entry.location, columns=[*RUN_COLUMNS, "error_message"]).to_pylist()
            return Runs(entry.qualified_name, _last_runs(rows))
        except TableNotFoundError:
            pass
    spooled = spooled_runs(state_dir)
    if spooled:
        return Runs(
            f"the run-record spool in {spool_folder(state_dir, PIPELINE_RUNS.name)}", _last_runs(spooled)
        )
    return None


def traffic_state(catalog: Catalog) -> Traffic | None:
    """Requests per service and API key: the audit trail's ``read`` records of HTTP requests."""
    entry = topic_records(catalog, AUDIT.name, AUDIT_COLUMNS)
    if entry is None:
        return None
    try:
        rows = read_arrow(entry.location, columns=list(AUDIT_COLUMNS)).to_pylist()
    except TableNotFoundError:
        return None
    counts: dict[tuple[str, str | None], dict[str, Any]] = {}
    for row in rows:
        if row["action"] != "read" or row["status_code"] is None:
            continue
        key = (row["service"], row["api_key_id"])
        seen = counts.setdefault(
            key, {"requests": 0, "last_at": row["occurred_at"], **dict.fromkeys(OUTCOMES, 0)}
        )
        seen["requests"] += 1
        if row["outcome"] in OUTCOMES:
            seen[row["outcome"]] += 1
        seen["last_at"] = max(seen["last_at"], row["occurred_at"])
    per_key = tuple(
        KeyTraffic(service, key_id, **values)
        for (service, key_id), values in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    )
    return Traffic(entry.qualified_name, per_key)


def gather(
    catalog: Catalog, *, state_dir: Path, now: datetime | None = None, versions: int = 20
) -> PlatformState:
    """Everything the report shows, as of ``now`` (default: the current time)."""
    at = now or datetime.now(tz=UTC)
    products = []
    for name in sorted({e.product for e in catalog.entries.values()}):
        entries = sorted(catalog.select(product=name), key=lambda e: e.qualified_name)
        quality = []
        for quarantine in (e for e in entries if e.layer == Layer.QUARANTINE):
            source = checked_against(catalog, quarantine)
            if source is not None:
                quality.append(quality_state(quarantine, source))
        products.append(
            ProductState(
                name,
                entries[0].owner,
                tuple(table_state(e, now=at, versions=versions) for e in entries),
                tuple(quality),
            )
        )
    return PlatformState(at, tuple(products), runs_state(catalog, state_dir), traffic_state(catalog))
