"""Access requests (the I/O edge): everything the lake holds about one person, exported per
catalogued table as JSON lines with the catalog's description of every column (GDPR art. 15).

The person is resolved as for erasure (the subject key, and every keyed id the identity links
tie to it; the clear ids of the request), and a table's rows are theirs by the same condition
erasure deletes by, so an export shows exactly what an erasure would remove (and, for this
product's own tables, what is kept). Only a table's current version is exported: older versions
are history, not what the lake holds now.

The export holds clear personal data, so it is written owner-only under
``<lake>/_compliance/access_exports/<request_id>/`` (``manifest.json`` and one
``<table>.jsonl`` per table with rows); an erasure of the same person deletes it.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance_auditing.processing.erase import resolve_subject
from compliance_auditing.processing.erasure import match_condition, subject_frame
from compliance_auditing.storage.exports import MANIFEST, export_dir, export_file, write_private
from compliance_auditing.storage.requests import (
    ACCESS,
    RequestState,
    advance,
    drop_clear_ids,
    load_clear_ids,
    request_states,
)
from lakehouse_core.delta import table_exists

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse_platform.catalog import Catalog, CatalogEntry

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def subject_rows(spark: SparkSession, entry: CatalogEntry, subject: DataFrame) -> DataFrame | None:
    """The table's current rows of the subject, each as one JSON object (nulls kept); None when
    the table declares no column that names a person on its own."""
    from pyspark.sql import functions as F

    condition = match_condition(entry.spec.subject_columns)
    if condition is None:
        return None
    table = spark.read.format("delta").load(entry.location).alias("t")
    rows = table.join(F.broadcast(subject.alias("s")), F.expr(condition), "left_semi")
    return rows.select(F.to_json(F.struct("*"), {"ignoreNullFields": "false"}).alias("json"))


def export_table(
    spark: SparkSession, entry: CatalogEntry, subject: DataFrame, folder: Path
) -> dict[str, Any]:
    """Write one table's rows of the subject; its manifest entry."""
    described = {
        "table": entry.qualified_name,
        "product": entry.product,
        "layer": entry.layer.value,
        "description": entry.spec.description.strip(),
        "columns": [
            {
                "name": c.name,
                "type": c.type,
                "description": c.description,
                "identifies": c.subject.value if c.subject else None,
            }
            for c in entry.columns
        ],
    }
    rows = subject_rows(spark, entry, subject) if table_exists(spark, entry.location) else None
    lines = [r["json"] for r in rows.collect()] if rows is not None else []
    if lines:
        write_private(folder / export_file(entry.qualified_name), "\n".join(lines) + "\n")
    return {**described, "rows": len(lines), "file": export_file(entry.qualified_name) if lines else None}


def export_subject(
    spark: SparkSession, catalog: Catalog, request: RequestState, lake_root: str, *, now: Clock
) -> dict[str, Any]:
    """Export the request's subject from every catalogued table with subject columns; the
    manifest written beside the files."""
    clear = load_clear_ids(lake_root, request.request_id, ACCESS)
    subject, links = resolve_subject(spark, catalog, request.subject_key, clear)
    frame = subject_frame(spark, subject).cache()
    folder = export_dir(lake_root, request.request_id)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    tables = [
        export_table(spark, entry, frame, folder)
        for entry in sorted(catalog.entries.values(), key=lambda e: e.qualified_name)
        if entry.spec.subject_columns
    ]
    frame.unpersist()
    manifest = {
        "request_id": request.request_id,
        "subject_key": request.subject_key,
        "requested_at": request.requested_at.isoformat(),
        "generated_at": now().isoformat(),
        "identity_links_read": links,
        "linked_ids": len(subject.linked_ids),
        "tables_searched": len(tables),
        "rows": sum(t["rows"] for t in tables),
        "tables": tables,
    }
    write_private(folder / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


@dataclass(frozen=True)
class AccessRun:
    executed: int
    completed: int
    failed: int


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def execute_access_requests(
    spark: SparkSession, catalog: Catalog, *, lake_root: str, now: Clock = utc_now
) -> AccessRun:
    """Export the subject of every pending (or interrupted) access request."""
    todo = [s for s in request_states(lake_root, kind=ACCESS).values() if s.state in ("pending", "executing")]
    completed = failed = 0
    for request in sorted(todo, key=lambda s: s.requested_at):
        advance(lake_root, request, "executing", now(), kind=ACCESS)
        try:
            manifest = export_subject(spark, catalog, request, lake_root, now=now)
        except Exception as exc:
            log.exception("access request %s failed", request.request_id)
            detail = f"{type(exc).__name__}: {exc}"[:2000]
            advance(lake_root, request, "failed", now(), detail, kind=ACCESS)
            failed += 1
            continue
        drop_clear_ids(lake_root, request.request_id, ACCESS)
        holding = sum(1 for t in manifest["tables"] if t["rows"])
        detail = f"{manifest['rows']} rows from {holding} of {manifest['tables_searched']} tables searched"
        advance(lake_root, request, "completed", now(), detail, kind=ACCESS)
        completed += 1
    return AccessRun(len(todo), completed, failed)
