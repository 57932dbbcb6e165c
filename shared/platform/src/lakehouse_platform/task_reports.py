"""What a task wrote, read from the Delta commits it made: rows written and the newest version,
per table, and the rows it sent to quarantine by rule.

A task notes each table's version before it runs (:func:`versions_before`); afterwards the
commits past that version are its writes (:func:`written_since`). Their ``operationMetrics``
give the rows: an append or overwrite counts its output rows, a MERGE the rows it inserted and
updated, an UPDATE the rows it updated; deletions and file rewrites (OPTIMIZE) write no row.
Nothing is scanned but the transaction log, except for the quarantine rules, which come from the
change feed of the quarantine table over those versions (:func:`quarantined_by_rule`).

The commits past the noted version are taken as the task's own: a second writer of the same
table at the same time (e.g. ``<product> ingest`` streaming into bronze while the pipeline
runs) has its commits counted too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lakehouse_core.delta import table_exists, table_history
from lakehouse_core.tables import TableSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

#: The operation metrics that count rows written, by Delta operation.
ROWS_WRITTEN_METRICS: Mapping[str, tuple[str, ...]] = {
    "WRITE": ("numOutputRows",),
    "STREAMING UPDATE": ("numOutputRows",),
    "CREATE TABLE AS SELECT": ("numOutputRows",),
    "REPLACE TABLE AS SELECT": ("numOutputRows",),
    "CREATE OR REPLACE TABLE AS SELECT": ("numOutputRows",),
    "MERGE": ("numTargetRowsInserted", "numTargetRowsUpdated"),
    "UPDATE": ("numUpdatedRows",),
}


@dataclass(frozen=True)
class Written:
    """Per table (qualified name): rows written and the newest version committed, for the tables
    the task changed."""

    rows_written: dict[str, int] = field(default_factory=dict)
    delta_versions: dict[str, int] = field(default_factory=dict)

    def outputs(self) -> dict[str, dict[str, int]]:
        return {"rows_written": self.rows_written, "delta_versions": self.delta_versions}


def rows_written(commits: Iterable[Mapping[str, Any]]) -> int:
    """Rows the commits wrote, from their ``operation`` and ``operationMetrics``."""
    total = 0
    for commit in commits:
        metrics = commit.get("operationMetrics") or {}
        for name in ROWS_WRITTEN_METRICS.get(str(commit.get("operation")), ()):
            try:
                total += int(metrics.get(name) or 0)
            except (TypeError, ValueError):
                log.warning(
                    "delta commit metric is not a count; left out of the rows written",
                    extra={"version": commit.get("version"), "metric": name},
                )
    return total


def _latest_version(spark: SparkSession, spec: TableSpec, lake_root: str) -> int | None:
    if not table_exists(spark, spec.location(lake_root)):
        return None
    [latest] = table_history(spark, spec, lake_root=lake_root, limit=1)
    return int(latest["version"])


def versions_before(
    spark: SparkSession, specs: Sequence[TableSpec], *, lake_root: str
) -> dict[str, int | None]:
    """Each table's newest version now (None where the table does not exist yet)."""
    return {spec.qualified_name: _latest_version(spark, spec, lake_root) for spec in specs}


def written_since(
    spark: SparkSession,
    specs: Sequence[TableSpec],
    before: Mapping[str, int | None],
    *,
    lake_root: str,
) -> Written:
    """The rows written and newest version of each table with commits past ``before``."""
    written = Written()
    for spec in specs:
        name = spec.qualified_name
        latest = _latest_version(spark, spec, lake_root)
        previous = before.get(name)
        if latest is None or (previous is not None and latest <= previous):
            continue
        count = latest - (previous if previous is not None else -1)
        commits = table_history(spark, spec, lake_root=lake_root, limit=count)
        written.rows_written[name] = rows_written(
            c for c in commits if previous is None or int(c["version"]) > previous
        )
        written.delta_versions[name] = latest
    return written


def quarantined_by_rule(
    spark: SparkSession,
    quarantine: TableSpec,
    before: int | None,
    latest: int | None,
    *,
    lake_root: str,
) -> dict[str, int]:
    """Rows the commits after ``before`` up to ``latest`` put into quarantine (inserted, or
    updated with new rules or reason), by rule: a row failing two rules counts under both.
    Empty when nothing was committed, or (with a warning) when the table has no change feed."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    if latest is None or (before is not None and latest <= before):
        return {}
    try:
        changes = (
            spark.read.format("delta")
            .option("readChangeFeed", "true")
            .option("startingVersion", 0 if before is None else before + 1)
            .option("endingVersion", latest)
            .load(quarantine.location(lake_root))
            .where(F.col("_change_type").isin("insert", "update_postimage"))
            .select(F.explode("failed_rules").alias("rule"))
            .groupBy("rule")
            .count()
            .collect()
        )
    except AnalysisException as exc:
        log.warning(
            "quarantine change feed not readable; quarantined rows left out of the run record",
            extra={"table": quarantine.qualified_name, "error": str(exc).splitlines()[0]},
        )
        return {}
    return {str(row["rule"]): int(row["count"]) for row in changes}
