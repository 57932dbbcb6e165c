"""Deleting a subject's rows from one Delta table and removing them from its history (the I/O
edge of erasure). Each step says what it removed; docs/DESIGN.md says what time travel it costs.

1. ``MERGE … WHEN MATCHED THEN DELETE`` with the subject as a one-row source: the rows go from
   the current version, and the commit's recorded predicate names columns, not the key.
2. ``REORG TABLE … APPLY (PURGE)`` when the table has deletion vectors: rewrites the files that
   only masked the rows.
3. ``VACUUM … RETAIN 0 HOURS`` (the retention check off on the session for this call only):
   deletes every data file and change-data file no current version needs, i.e. the files that
   held the rows, the change feed's copies of the deleted rows, and the table's older versions.
4. A checkpoint of the newest version (Delta's own), then every log file of an older version is
   deleted: the commits' ``add`` actions keep min/max statistics of the removed files (which can
   be the key), and older checkpoints repeat them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_core.errors import JobError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
#: A log file of one version (a commit, checksum or checkpoint) or its hidden Hadoop checksum.
_VERSIONED_LOG_FILE = re.compile(r"^\.?(\d{20})\.")


@dataclass(frozen=True)
class Purge:
    """What purging one table did."""

    rows_deleted: int
    reorganised: bool
    files_vacuumed: int
    log_files_removed: int
    first_readable_version: int


def _deletion_vectors(spark: SparkSession, location: str) -> bool:
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{location}`").first()
    props = dict(properties["properties"] or {}) if properties else {}
    return str(props.get("delta.enableDeletionVectors", "false")).lower() == "true"


def delete_rows(table_location: str, subject: DataFrame, condition: str) -> int:
    """MERGE-delete the rows of the table matching ``condition`` (``t`` the table, ``s`` the
    one-row ``subject``); the number of rows deleted."""
    from delta.tables import DeltaTable

    spark = subject.sparkSession
    table = DeltaTable.forPath(spark, table_location)
    table.alias("t").merge(subject.alias("s"), condition).whenMatchedDelete().execute()
    last = table.history(1).first()
    metrics = dict(last["operationMetrics"] or {}) if last else {}
    return int(metrics.get("numTargetRowsDeleted", 0))


def vacuum_now(spark: SparkSession, table_location: str) -> int:
    """VACUUM with zero retention (the session's retention check off only for this call); the
    number of files deleted."""
    from delta.tables import DeltaTable

    previous = spark.conf.get(RETENTION_CHECK, "true")
    spark.conf.set(RETENTION_CHECK, "false")
    try:
        result = DeltaTable.forPath(spark, table_location).vacuum(0.0)
        vacuumed = spark.sql(f"DESCRIBE HISTORY delta.`{table_location}` LIMIT 1").first()
    finally:
        spark.conf.set(RETENTION_CHECK, previous or "true")
    del result
    metrics = dict(vacuumed["operationMetrics"] or {}) if vacuumed else {}
    return int(metrics.get("numDeletedFiles", 0))


def truncate_log(spark: SparkSession, table_location: str) -> tuple[int, int]:
    """Checkpoint the newest version (Delta's own checkpoint, so every table feature is kept)
    and delete the log files of every older version; (files deleted, the checkpoint's version,
    now the first readable one)."""
    jvm: Any = spark._jvm
    session: Any = spark._jsparkSession
    delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(session, table_location)
    delta_log.checkpoint()
    log_dir = Path(table_location) / "_delta_log"
    version = int(json.loads((log_dir / "_last_checkpoint").read_text())["version"])
    removed = 0
    for path in sorted(log_dir.iterdir()):
        found = _VERSIONED_LOG_FILE.match(path.name)
        if path.is_file() and found and int(found.group(1)) < version:
            path.unlink()
            removed += 1
    return removed, version


def purge_subject(table_location: str, subject: DataFrame, condition: str) -> Purge:
    """Steps 1-4 of the module docstring on one table. A local lake only: step 4 deletes files
    with the filesystem."""
    if "://" in table_location and not table_location.startswith("file://"):
        raise JobError(f"{table_location}: erasure purges local lakes only in this release")
    spark = subject.sparkSession
    deleted = delete_rows(table_location, subject, condition)
    reorganised = _deletion_vectors(spark, table_location)
    if reorganised:
        spark.sql(f"REORG TABLE delta.`{table_location}` APPLY (PURGE)")
    vacuumed = vacuum_now(spark, table_location)
    removed, first = truncate_log(spark, table_location)
    return Purge(deleted, reorganised, vacuumed, removed, first)
