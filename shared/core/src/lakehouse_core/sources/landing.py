"""An API source's records in bronze, once per (record id, update time), without Spark.

Each version of a record is one bronze row (:class:`ApiRecord`): a late update of an earlier
record is a new row, a record fetched again is nothing. The write is a delta-rs
``DeltaTable.merge`` inserting the rows whose ``(source, record_id, updated_at)`` are not in the
table yet. delta-rs rather than Spark's :func:`lakehouse_core.delta.merge_insert_new`: a
connector spends its time waiting for HTTP, pages are small, and starting a JVM for them would
cost more than the pages; the table it writes is an ordinary Delta table (deletion vectors off,
change data feed on) that Spark jobs read and write like any other. Rows are buffered and
merged every ``commit_every`` records, at the end of the run, and before an error is raised, so
every complete page fetched lands.

Records that cannot be landed (not a JSON object, no id, an update time that cannot be read or
has no offset) go to the source's quarantine table with the reason, once per payload.

The high-water mark (the newest update time landed) is a small JSON file in the source's
checkpoint folder (:func:`lakehouse_core.tables.checkpoint_location`), not a value derived
from bronze: a mark is true only once a whole run landed, because an API paging in another
order than update time returns newer records before older ones, so bronze's newest update time
after a run that failed half-way would skip the records it had not reached. The file is
replaced only after the run's last bronze commit; a crash between the two makes the next run
fetch the same records again, and the merge lands none of them twice. It is written through
``pyarrow.fs``, so a lake on an object store keeps its mark there too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, Field

from lakehouse_core.contracts import spark_schema
from lakehouse_core.errors import TableError
from lakehouse_core.privacy import SUBJECT_KEY_COLUMN, platform_subject_key, subject_key_of
from lakehouse_core.serving.contracts import arrow_schema
from lakehouse_core.sources.http_api import FetchStats, HttpApiClient, HttpApiSource, field_value
from lakehouse_core.tables import (
    LAYER_FRESHNESS,
    RAW_RETENTION_DAYS,
    Layer,
    Retention,
    SubjectKind,
    TableSpec,
    checkpoint_location,
    join_location,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

log = logging.getLogger(__name__)

#: Rows buffered before a bronze commit.
COMMIT_EVERY = 10_000
#: How often a commit that lost a race with another writer is tried again.
COMMIT_ATTEMPTS = 5


class ApiRecord(BaseModel):
    """Bronze: one version of a record of an HTTP API, as fetched; one row per record id and
    update time."""

    source: str = Field(description="The source's name in the product's configuration.")
    record_id: str
    updated_at: datetime = Field(description="The record's update time, as the API reported it (UTC).")
    payload: str = Field(description="The record as the API sent it, as JSON.")
    request_url: str = Field(description="The page request that returned it, query string included.")
    fetched_at: datetime
    ingest_date: date = Field(description="UTC date the row was landed; the partition column.")
    subject_key: str | None = Field(
        default=None,
        description="The person's subject key: HMAC of the record's user id (the source's "
        "subject_field) with the platform key; null when the source names none or the record has none.",
    )


class ApiQuarantineEntry(BaseModel):
    """Quarantine: a record of an HTTP API that could not be landed in bronze, and why."""

    source: str
    payload_sha256: str = Field(description="SHA-256 of the payload: the same record is quarantined once.")
    record_id: str | None
    payload: str
    reason: str
    request_url: str
    quarantined_at: datetime
    subject_key: str | None = None


BRONZE_KEYS = ("source", "record_id", "updated_at")
QUARANTINE_KEYS = ("source", "payload_sha256")


def api_bronze_table(product: str, name: str) -> TableSpec:
    """The bronze table of a product's API source ``name``."""
    return TableSpec(
        name=name,
        layer=Layer.BRONZE,
        product=product,
        schema=spark_schema(ApiRecord),
        partition_by=("ingest_date",),
        description=f"Records of the {name} API, one row per record id and update time.",
        contract=ApiRecord,
        subject_columns={"payload": SubjectKind.FREE_TEXT, SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY},
        retention=Retention(RAW_RETENTION_DAYS, "ingest_date"),
        freshness=LAYER_FRESHNESS[Layer.BRONZE],
        upstream=(),
    )


def api_quarantine_table(product: str, name: str) -> TableSpec:
    """The quarantine of a product's API source ``name``."""
    return TableSpec(
        name=name,
        layer=Layer.QUARANTINE,
        product=product,
        schema=spark_schema(ApiQuarantineEntry),
        description=f"Records of the {name} API that could not be landed, with the reason.",
        contract=ApiQuarantineEntry,
        subject_columns={"payload": SubjectKind.FREE_TEXT, SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY},
        retention=Retention(RAW_RETENTION_DAYS, "quarantined_at"),
        freshness=LAYER_FRESHNESS[Layer.QUARANTINE],
        upstream=(),
    )


def parse_updated_at(value: Any) -> datetime | str:  # noqa: PLR0911
    """A record's update time in UTC, or why it cannot be one (a string)."""
    if isinstance(value, bool) or value is None:
        return "no update time" if value is None else f"update time {value!r} is not a time"
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return f"update time {value!r} is out of range"
    if not isinstance(value, str):
        return f"update time {value!r} is not a time"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f"update time {value!r} is not ISO 8601"
    if parsed.tzinfo is None:
        return f"update time {value!r} has no UTC offset"
    return parsed.astimezone(UTC)


@dataclass
class SortedRows:
    """A page's records as bronze rows and quarantine rows."""

    bronze: list[dict[str, Any]] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)


def sort_records(
    records: Iterable[Any],
    source: HttpApiSource,
    *,
    request_url: str,
    fetched_at: datetime,
    subject_key: bytes,
) -> SortedRows:
    """Validate a page's records (pure): bronze rows for the good ones, quarantine rows with a
    reason for the others."""
    rows = SortedRows()
    for record in records:
        payload = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
        record_id: str | None = None
        reason: str | None = None
        user: Any = None
        if not isinstance(record, Mapping):
            reason = "not a JSON object"
        else:
            raw_id = field_value(record, source.record_id_field)
            if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) and str(raw_id).strip():
                record_id = str(raw_id)
            else:
                reason = f"no record id at {source.record_id_field!r}"
            user = field_value(record, source.subject_field) if source.subject_field else None
        key = subject_key_of(str(user), subject_key) if isinstance(user, str | int) else None
        updated = parse_updated_at(field_value(record, source.updated_at_field)) if reason is None else ""
        if isinstance(updated, str):
            rows.quarantine.append(
                {
                    "source": source.name,
                    "payload_sha256": hashlib.sha256(payload.encode()).hexdigest(),
                    "record_id": record_id,
                    "payload": payload,
                    "reason": reason or f"{updated} at {source.updated_at_field!r}",
                    "request_url": request_url,
                    "quarantined_at": fetched_at,
                    SUBJECT_KEY_COLUMN: key,
                }
            )
            continue
        rows.bronze.append(
            {
                "source": source.name,
                "record_id": record_id,
                "updated_at": updated,
                "payload": payload,
                "request_url": request_url,
                "fetched_at": fetched_at,
                "ingest_date": fetched_at.date(),
                SUBJECT_KEY_COLUMN: key,
            }
        )
    return rows


def high_water_mark_location(lake_root: str, product: str, source: str) -> str:
    return join_location(checkpoint_location(lake_root, product, f"source-{source}"), "high_water_mark.json")


def read_high_water_mark(location: str) -> datetime | None:
    """The newest update time a finished run landed; ``None`` before the first."""
    from pyarrow import fs

    filesystem, path = fs.FileSystem.from_uri(_uri(location))
    if filesystem.get_file_info(path).type == fs.FileType.NotFound:
        return None
    with filesystem.open_input_stream(path) as stream:
        state = orjson.loads(stream.read())
    return datetime.fromisoformat(state["updated_at"])


def write_high_water_mark(location: str, mark: datetime, *, bronze_version: int | None) -> None:
    """Replace the mark: written beside it, then moved over it (a rename on a local disk, one
    object put on a store), so a reader sees the old mark or the new one."""
    from pyarrow import fs

    filesystem, path = fs.FileSystem.from_uri(_uri(location))
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    state = {"updated_at": mark.isoformat(), "bronze_version": bronze_version}
    with filesystem.open_output_stream(f"{path}.tmp") as stream:
        stream.write(orjson.dumps(state))
    filesystem.move(f"{path}.tmp", path)


def _uri(location: str) -> str:
    from pathlib import Path

    return location if "://" in location else Path(location).absolute().as_uri()


@dataclass
class LandingReport:
    """What one run of a source did."""

    source: str
    updated_since: datetime | None
    fetched: int = 0
    landed: int = 0
    quarantined: int = 0
    high_water_mark: datetime | None = None
    bronze_version: int | None = None
    fetch: FetchStats = field(default_factory=FetchStats)


@dataclass(frozen=True, kw_only=True)
class HttpSourceLanding:
    """A product's API source and the tables and state it lands into."""

    source: HttpApiSource
    bronze: TableSpec
    quarantine: TableSpec
    lake_root: str
    product: str
    subject_key: bytes = field(default_factory=platform_subject_key, repr=False)
    commit_every: int = COMMIT_EVERY

    @property
    def mark_location(self) -> str:
        return high_water_mark_location(self.lake_root, self.product, self.source.name)


def land(job: HttpSourceLanding, *, client: HttpApiClient | None = None) -> LandingReport:
    """Fetch what changed since the high-water mark (minus the source's lookback), land it, then
    move the mark. An error while fetching lands the complete pages before it and leaves the
    mark where it was."""
    mark = read_high_water_mark(job.mark_location)
    since = None if mark is None else mark - timedelta(seconds=job.source.lookback_seconds)
    report = LandingReport(source=job.source.name, updated_since=since, high_water_mark=mark)
    owned = client is None
    http = client or HttpApiClient(job.source)
    report.fetch = http.stats
    pending = SortedRows()
    newest = mark
    try:
        for page in http.pages(updated_since=since):
            rows = sort_records(
                page.records,
                job.source,
                request_url=page.url,
                fetched_at=datetime.now(tz=UTC),
                subject_key=job.subject_key,
            )
            report.fetched += len(page.records)
            pending.bronze += rows.bronze
            pending.quarantine += rows.quarantine
            for row in rows.bronze:
                if newest is None or row["updated_at"] > newest:
                    newest = row["updated_at"]
            if len(pending.bronze) + len(pending.quarantine) >= job.commit_every:
                _commit(job, pending, report)
                pending = SortedRows()
    finally:
        _commit(job, pending, report)
        if owned:
            http.close()
    if newest is not None and newest != mark:
        write_high_water_mark(job.mark_location, newest, bronze_version=report.bronze_version)
        report.high_water_mark = newest
    log.info(
        "api source landed",
        extra={
            "source": job.source.name,
            "fetched": report.fetched,
            "landed": report.landed,
            "quarantined": report.quarantined,
            "retries": report.fetch.retried,
        },
    )
    return report


def _commit(job: HttpSourceLanding, rows: SortedRows, report: LandingReport) -> None:
    if rows.quarantine:
        inserted, _ = insert_new(
            job.quarantine, rows.quarantine, ApiQuarantineEntry, QUARANTINE_KEYS, job.lake_root
        )
        report.quarantined += inserted
    if rows.bronze:
        inserted, version = insert_new(job.bronze, rows.bronze, ApiRecord, BRONZE_KEYS, job.lake_root)
        report.landed += inserted
        report.bronze_version = version


def insert_new(
    spec: TableSpec,
    rows: list[dict[str, Any]],
    model: type[BaseModel],
    keys: tuple[str, ...],
    lake_root: str,
) -> tuple[int, int]:
    """Insert the rows whose ``keys`` the table does not hold yet (one delta-rs MERGE); returns
    how many were inserted and the table's version after it. A nullable column the contract
    gained is added to the table (an additive change, as :func:`lakehouse_core.delta.ensure_table`
    does for Spark)."""
    import pyarrow as pa
    from deltalake.exceptions import CommitFailedError, DeltaError

    unique = list({tuple(row[k] for k in keys): row for row in rows}.values())
    source = pa.Table.from_pylist(unique, schema=arrow_schema(model))
    predicate = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        table = _ensure(spec, lake_root)
        try:
            metrics = (
                table.merge(
                    source, predicate=predicate, source_alias="s", target_alias="t", merge_schema=True
                )
                .when_not_matched_insert_all()
                .execute()
            )
        except CommitFailedError as exc:
            if attempt == COMMIT_ATTEMPTS:
                message = f"gave up after {attempt} conflicting commits"
                raise TableError(message, table=spec.qualified_name) from exc
            log.warning("delta commit conflict, retrying", extra={"table": spec.qualified_name})
            continue
        except DeltaError as exc:
            raise TableError(str(exc).splitlines()[0], table=spec.qualified_name) from exc
        return int(metrics["num_target_rows_inserted"]), int(table.version())
    raise AssertionError("unreachable")


def _ensure(spec: TableSpec, lake_root: str) -> DeltaTable:
    from deltalake import DeltaTable

    location = spec.location(lake_root)
    if DeltaTable.is_deltatable(location):
        return DeltaTable(location)
    return DeltaTable.create(
        location,
        schema=_arrow(spec),
        partition_by=list(spec.partition_by) or None,
        mode="ignore",
        description=spec.description,
        configuration=spec.table_properties(),
    )


def _arrow(spec: TableSpec) -> pa.Schema:
    if spec.contract is None:
        raise TableError("an API source's table needs a contract", table=spec.qualified_name)
    return arrow_schema(spec.contract)
