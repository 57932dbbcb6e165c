"""Completed erasures applied again to tables restored from a backup (the I/O edge).

A backup is not rewritten when someone is erased, so a table restored from one taken before the
erasure holds the person again. ``lakehouse backup restore`` writes a marker for every restore
(``<lake>/_platform/restores/<id>.json``: the tables and their locations, and
``erasures_reapplied: false``); this module applies every completed erasure of the live lake
(``silver.erased_subjects``) to each table a marker names, with erasure's own purge (rows
deleted, deletion vectors purged, files vacuumed, log truncated), then marks the restore done.

The people are known in keyed form only: subject key, product-keyed ids, and the subject keys of
their clear ids, which match user-id columns and the id fields of raw JSON payloads
(:func:`~compliance_auditing.processing.erasure.match_condition` with ``keyed_by``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance_auditing.contracts import ErasedSubject
from compliance_auditing.processing.erasure import Subject, match_condition, subject_frame
from compliance_auditing.processing.purge import purge_subject
from compliance_auditing.storage.exports import write_private
from compliance_auditing.storage.requests import erased_subjects
from compliance_auditing.storage.tables import KEPT_ON_ERASURE
from lakehouse_core.delta import table_exists
from lakehouse_core.privacy import platform_subject_key
from lakehouse_platform.backup.restore import RESTORES

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse_platform.catalog import Catalog

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def pending_restores(lake_root: str) -> list[Path]:
    """The restore markers under ``lake_root`` whose erasures are not applied yet, oldest first."""
    folder = Path(lake_root) / RESTORES
    markers = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return [m for m in markers if not json.loads(m.read_text()).get("erasures_reapplied")]


def as_subject(erased: ErasedSubject) -> Subject:
    return Subject(erased.subject_key, tuple(erased.linked_ids), (), tuple(erased.clear_id_keys))


@dataclass(frozen=True)
class Reapplied:
    restores: int
    tables: int
    rows_deleted: int


def reapply_to_restore(
    spark: SparkSession, catalog: Catalog, marker: Path, people: list[ErasedSubject], *, now: Clock
) -> dict[str, Any]:
    """Apply every erasure of ``people`` to the tables of one restore; the marker, updated."""
    restore: dict[str, Any] = json.loads(marker.read_text())
    key = platform_subject_key()
    tables = []
    for restored in restore.get("tables", []):
        name, location = restored["name"], restored["location"]
        entry = catalog.entries.get(name)
        if entry is None or name in KEPT_ON_ERASURE or not table_exists(spark, location):
            reason = "kept" if name in KEPT_ON_ERASURE else "not in the catalog or not a Delta table"
            tables.append({"table": name, "location": location, "status": "skipped", "reason": reason})
            continue
        condition = match_condition(entry.spec.subject_columns, keyed_by=key)
        if condition is None:
            tables.append({"table": name, "location": location, "status": "no_subject_columns"})
            continue
        deleted = 0
        for person in people:
            frame = subject_frame(spark, as_subject(person))
            deleted += purge_subject(location, frame, condition).rows_deleted
        tables.append({"table": name, "location": location, "status": "reapplied", "rows_deleted": deleted})
    restore.update(
        erasures_reapplied=True,
        erasures_reapplied_at=now().isoformat(),
        erasures_applied=[p.request_id for p in people],
        erasure_tables=tables,
    )
    write_private(marker, json.dumps(restore, indent=2, sort_keys=True))
    return restore


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def reapply_erasures(
    spark: SparkSession,
    catalog: Catalog,
    *,
    lake_root: str,
    restored_root: str | None = None,
    now: Clock = utc_now,
) -> Reapplied:
    """Apply the live lake's (``lake_root``) completed erasures to every restore under
    ``restored_root`` (default the live lake: restores in place) not handled yet."""
    people = erased_subjects(lake_root)
    markers = pending_restores(restored_root or lake_root)
    tables = deleted = 0
    for marker in markers:
        done = reapply_to_restore(spark, catalog, marker, people, now=now)
        reapplied = [t for t in done["erasure_tables"] if t["status"] == "reapplied"]
        tables += len(reapplied)
        deleted += sum(t["rows_deleted"] for t in reapplied)
        log.info(
            "erasures applied again", extra={"restore": done.get("restore_id"), "tables": len(reapplied)}
        )
    return Reapplied(len(markers), tables, deleted)
