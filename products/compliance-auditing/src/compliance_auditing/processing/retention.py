"""Retention enforcement (the I/O edge and its pure parts): every catalogued table that declares
a retention has its rows dated before ``today - days`` deleted, by its declared date column, in
one Delta commit per table; each table checked gives one row of ``gold.retention_runs``.

The deleted rows leave the table's current version at once. Their files stay in the table's
history until the general VACUUM window has passed, as for any delete (docs/DESIGN.md,
"Retention"): retention is about rows outgrowing their purpose, not a person's request, so
other people's time travel is not given up for it. Streams reading a table by its new files
skip these delete commits, and those reading its change feed leave their deletes out (the
commits carry :data:`~lakehouse_core.incremental.EXPIRY_METADATA`), so no product downstream
stops and no aggregate downstream loses what expired in its source
(:mod:`lakehouse_core.incremental`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from compliance_auditing.contracts import RetentionRun
from lakehouse_core.delta import commit_metadata, table_exists, with_conflict_retry
from lakehouse_core.incremental import EXPIRY_METADATA
from lakehouse_core.platform_topics import new_record_id
from lakehouse_core.tables import Retention

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse_platform.catalog import Catalog, CatalogEntry

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def retention_cutoff(retention: Retention, today: date) -> date:
    """The first day kept: rows dated before it have outlived the retention."""
    return today - timedelta(days=retention.days)


def expired_predicate(retention: Retention, cutoff: date) -> str:
    """The SQL predicate of a table's expired rows (a date or a timestamp column: a timestamp
    before the cutoff's midnight, UTC, is expired)."""
    return f"`{retention.date_column}` < DATE'{cutoff.isoformat()}'"


@dataclass(frozen=True)
class RetentionOutcome:
    """One run: a row per table checked, and the Delta version each delete committed."""

    runs: list[RetentionRun]

    @property
    def rows_deleted(self) -> dict[str, int]:
        return {r.table_name: r.rows_deleted for r in self.runs if r.rows_deleted}

    @property
    def delta_versions(self) -> dict[str, int]:
        return {r.table_name: r.table_version for r in self.runs if r.table_version is not None}


def expire_table(
    spark: SparkSession, entry: CatalogEntry, retention: Retention, *, cutoff: date
) -> tuple[str, int, int | None]:
    """Delete one table's expired rows; (status, rows deleted, version committed)."""
    from delta.tables import DeltaTable

    if not table_exists(spark, entry.location):
        return "absent", 0, None
    predicate = expired_predicate(retention, cutoff)
    expired = spark.read.format("delta").load(entry.location).where(predicate).count()
    if expired == 0:
        return "nothing_expired", 0, None
    table = DeltaTable.forPath(spark, entry.location)
    with commit_metadata(spark, EXPIRY_METADATA):
        with_conflict_retry(lambda: table.delete(predicate), table=entry.qualified_name)
    last = table.history(1).select("version", "operationMetrics").first()
    metrics = dict(last["operationMetrics"] or {}) if last else {}
    deleted = int(metrics.get("numDeletedRows", expired))
    return "expired", deleted, int(last["version"]) if last else None


def enforce_retention(
    spark: SparkSession, catalog: Catalog, *, clock: Clock | None = None
) -> RetentionOutcome:
    """Expire the rows of every catalogued table with a retention, as of the clock's UTC day."""
    now = (clock or (lambda: datetime.now(tz=UTC)))()
    run_id = new_record_id()
    runs = []
    for name in sorted(catalog.entries):
        entry = catalog.entries[name]
        retention = entry.spec.retention
        if retention is None:
            continue
        cutoff = retention_cutoff(retention, now.date())
        status, deleted, version = expire_table(spark, entry, retention, cutoff=cutoff)
        if deleted:
            log.info("expired rows deleted", extra={"table": name, "rows": deleted, "cutoff": str(cutoff)})
        runs.append(
            RetentionRun(
                run_id=run_id,
                executed_at=now,
                run_date=now.date(),
                table_name=name,
                date_column=retention.date_column,
                retention_days=retention.days,
                cutoff=cutoff,
                status=status,
                rows_deleted=deleted,
                table_version=version,
            )
        )
    return RetentionOutcome(runs)
