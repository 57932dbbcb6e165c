"""The edges of the product's processing: read, call the pure transforms, write.

- :func:`run_silver`: new bronze run records → silver attempts and quarantine, exactly once per
  bronze commit (the incremental runner's checkpoint) and idempotent per batch (insert-if-new on
  ``record_id`` and on the quarantined record's Kafka location), so a replayed batch changes
  nothing twice;
- :func:`run_run_stats`: the days silver's change feed touched since the last run, recomputed
  from every attempt of those days (partition overwrite);
- :func:`check_freshness`: one snapshot of every catalogued table's freshness, appended;
- :func:`run_incidents`: on new silver attempts or freshness checks, the incidents recomputed
  from :func:`~operational_metrics.processing.incidents.replay_start` on (partition overwrite
  of the opening days from there), so they equal a recompute of all history;
- :func:`run_sla_compliance`: the months freshness's change feed touched, recomputed;
- :func:`run_cost`: the days silver's change feed touched, priced from every attempt of those
  days and the bytes their Delta versions added (read from the written tables' logs);
- :func:`run_anomalies`: the days silver's change feed touched, every succeeded attempt of those
  days scored against its seasonal baseline (partition overwrite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from lakehouse_core.delta import append, ensure_table, merge_insert_new, overwrite_partitions, read_table
from lakehouse_core.delta_reader import open_table, read_arrow
from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.incremental import IncrementalRun, IncrementalSource, run_incrementally, run_on_changes
from lakehouse_core.tables import LAYER_FRESHNESS, checkpoint_location, local_path
from lakehouse_platform.backup.log import commit_name
from lakehouse_platform.task_reports import ROWS_WRITTEN_METRICS
from operational_metrics import PRODUCT
from operational_metrics.config import AnomalyConfig, CostRates
from operational_metrics.processing.anomalies import anomalies
from operational_metrics.processing.compliance import sla_compliance
from operational_metrics.processing.cost import asset_cost
from operational_metrics.processing.gold import backfill_writes, freshness, run_stats
from operational_metrics.processing.incidents import incidents, replay_start
from operational_metrics.processing.silver import parse_runs, split_resent
from operational_metrics.storage.tables import (
    BRONZE_RUNS,
    GOLD_ANOMALIES,
    GOLD_COST,
    GOLD_FRESHNESS,
    GOLD_INCIDENTS,
    GOLD_RUN_STATS,
    GOLD_SLA_COMPLIANCE,
    QUARANTINE_RUNS,
    SILVER_RUNS,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse_platform.catalog import Catalog

QUARANTINE_KEYS = ("source_topic", "source_partition", "source_offset")
#: The Delta operations that bring data into a table; CREATE TABLE (an empty table), OPTIMIZE,
#: VACUUM, property and column changes do not make a table fresher.
DATA_OPERATIONS = frozenset(ROWS_WRITTEN_METRICS)
#: The operation metrics that count the bytes a commit added, by Delta operation; a commit of
#: another operation (OPTIMIZE, VACUUM, a property change) adds no data of a run's own.
BYTES_WRITTEN_METRICS: Mapping[str, tuple[str, ...]] = {
    "WRITE": ("numOutputBytes",),
    "STREAMING UPDATE": ("numOutputBytes",),
    "CREATE TABLE AS SELECT": ("numOutputBytes",),
    "REPLACE TABLE AS SELECT": ("numOutputBytes",),
    "CREATE OR REPLACE TABLE AS SELECT": ("numOutputBytes",),
    "MERGE": ("numTargetBytesAdded",),
    "UPDATE": ("numAddedBytes",),
    "DELETE": ("numAddedBytes",),
}


def run_silver(spark: SparkSession, *, lake_root: str) -> IncrementalRun:
    """Refine the bronze run records not processed yet."""
    for spec in (BRONZE_RUNS, SILVER_RUNS, QUARANTINE_RUNS):
        ensure_table(spark, spec, lake_root=lake_root)

    def refine(batch: DataFrame, _: int) -> None:
        attempts, invalid = parse_runs(batch)
        attempts = attempts.cache()
        stored = read_table(spark, SILVER_RUNS, lake_root=lake_root)
        new, resent = split_resent(attempts, stored)
        merge_insert_new(new, SILVER_RUNS, lake_root=lake_root, keys=["record_id"])
        quarantine = invalid.unionByName(resent)
        merge_insert_new(quarantine, QUARANTINE_RUNS, lake_root=lake_root, keys=QUARANTINE_KEYS)
        attempts.unpersist()

    source = IncrementalSource(
        location=BRONZE_RUNS.location(lake_root),
        checkpoint=checkpoint_location(lake_root, PRODUCT, "silver"),
    )
    return run_incrementally(spark, source, refine, name=f"{PRODUCT}-silver")


def run_run_stats(spark: SparkSession, *, lake_root: str) -> IncrementalRun:
    """Recompute the run statistics of the days with new silver attempts."""
    from pyspark.sql import functions as F

    def recompute(changes: DataFrame, _: int) -> None:
        days = [r["run_date"] for r in changes.select("run_date").distinct().collect()]
        if not days:
            return
        attempts = read_table(spark, SILVER_RUNS, lake_root=lake_root).filter(F.col("run_date").isin(days))
        overwrite_partitions(run_stats(attempts), GOLD_RUN_STATS, lake_root=lake_root, partitions=days)

    return run_on_changes(
        spark,
        recompute,
        product=PRODUCT,
        job="run_stats",
        changes_of=SILVER_RUNS,
        tables=(GOLD_RUN_STATS,),
        lake_root=lake_root,
    )


@dataclass(frozen=True)
class FreshnessCheck:
    checked_at: datetime
    tables: int
    by_state: dict[str, int]


def data_commits(location: str, *, history_limit: int) -> list[tuple[int, datetime]]:
    """(version, commit time) of the newest ``history_limit`` commits that brought data
    (:data:`DATA_OPERATIONS`), from the Delta log through delta-rs; none when the table is absent."""
    try:
        history: Sequence[dict[str, Any]] = open_table(location).history(history_limit)
    except TableNotFoundError:
        return []
    return [
        (int(c["version"]), datetime.fromtimestamp(int(c["timestamp"]) / 1000, tz=UTC))
        for c in history
        if c.get("operation") in DATA_OPERATIONS
    ]


def catalog_tables(spark: SparkSession, catalog: Catalog) -> DataFrame:
    """(table_name, product, layer, warn_minutes, breach_minutes, location) of every catalogued
    table; a table without its own SLA has its layer's."""
    rows = []
    for entry in catalog.entries.values():
        sla = entry.spec.freshness or LAYER_FRESHNESS[entry.layer]
        rows.append(
            (entry.qualified_name, entry.product, entry.layer.value, sla.warn_minutes, sla.breach_minutes)
        )
    return spark.createDataFrame(
        rows, "table_name string, product string, layer string, warn_minutes int, breach_minutes int"
    )


def _commits_frame(spark: SparkSession, commits: Iterable[tuple[str, int, datetime]]) -> DataFrame:
    return spark.createDataFrame(list(commits), "table_name string, version long, committed_at timestamp")


def check_freshness(
    spark: SparkSession,
    catalog: Catalog,
    *,
    lake_root: str,
    checked_at: datetime | None = None,
    history_limit: int = 500,
) -> FreshnessCheck:
    """Append one freshness row per catalogued table, as of ``checked_at`` (default: now)."""
    when = checked_at or datetime.now(tz=UTC)
    commits = [
        (entry.qualified_name, version, at)
        for entry in catalog.entries.values()
        for version, at in data_commits(entry.location, history_limit=history_limit)
    ]
    ensure_table(spark, SILVER_RUNS, lake_root=lake_root)
    attempts = read_table(spark, SILVER_RUNS, lake_root=lake_root)
    snapshot = freshness(
        catalog_tables(spark, catalog),
        _commits_frame(spark, commits),
        backfill_writes(attempts),
        checked_at=when,
    ).cache()
    append(snapshot, GOLD_FRESHNESS, lake_root=lake_root)
    by_state = {
        r["state"]: int(r["n"])
        for r in snapshot.groupBy("state").count().withColumnRenamed("count", "n").collect()
    }
    snapshot.unpersist()
    return FreshnessCheck(when, sum(by_state.values()), by_state)


def stored_incident_spans(location: str) -> list[tuple[date, datetime, datetime | None]]:
    """(opened_date, opened_at, closed_at) of every stored incident, through delta-rs."""
    try:
        stored = read_arrow(location, columns=["opened_date", "opened_at", "closed_at"])
    except TableNotFoundError:
        return []
    return [(r["opened_date"], r["opened_at"], r["closed_at"]) for r in stored.to_pylist()]


def recompute_incidents(spark: SparkSession, first_changed_day: date, *, lake_root: str) -> None:
    """Recompute every incident from the replay start of ``first_changed_day`` on."""
    from pyspark.sql import functions as F

    spans = stored_incident_spans(GOLD_INCIDENTS.location(lake_root))
    start = replay_start(first_changed_day, [(opened, closed) for _, opened, closed in spans])
    # A retried task's first failed attempt may have started the day before its final one.
    attempts = read_table(spark, SILVER_RUNS, lake_root=lake_root).filter(
        F.col("run_date") >= start.date() - timedelta(days=1)
    )
    checks = read_table(spark, GOLD_FRESHNESS, lake_root=lake_root)
    checks = checks.filter(F.col("check_date") >= start.date())
    found = incidents(attempts, checks, since=start).cache()
    opened_days = {r["opened_date"] for r in found.select("opened_date").distinct().collect()}
    replaced = opened_days | {day for day, _, _ in spans if day >= start.date()}
    overwrite_partitions(found, GOLD_INCIDENTS, lake_root=lake_root, partitions=replaced)
    found.unpersist()


def run_incidents(spark: SparkSession, *, lake_root: str) -> IncrementalRun:
    """Recompute the incidents affected by new silver attempts and new freshness checks. Each
    change-feed batch recomputes from its first day (idempotent, so a replayed batch is harmless)."""

    def on(column: str) -> Callable[[DataFrame, int], None]:
        def recompute(changes: DataFrame, _: int) -> None:
            first = changes.agg({column: "min"}).collect()[0][0]
            if first is not None:
                recompute_incidents(spark, first, lake_root=lake_root)

        return recompute

    tables = (GOLD_INCIDENTS, GOLD_FRESHNESS)
    runs, checks = (
        run_on_changes(
            spark, on(column), product=PRODUCT, job=job, changes_of=spec, tables=tables, lake_root=lake_root
        )
        for column, job, spec in (
            ("run_date", "incidents_runs", SILVER_RUNS),
            ("check_date", "incidents_freshness", GOLD_FRESHNESS),
        )
    )
    return IncrementalRun(runs.batches + checks.batches, runs.input_rows + checks.input_rows)


def run_sla_compliance(spark: SparkSession, *, lake_root: str) -> IncrementalRun:
    """Recompute the SLA compliance of the months with new freshness checks."""
    from pyspark.sql import functions as F

    def recompute(changes: DataFrame, _: int) -> None:
        months = [r[0] for r in changes.select(F.trunc("check_date", "month")).distinct().collect()]
        if not months:
            return
        checks = read_table(spark, GOLD_FRESHNESS, lake_root=lake_root).filter(
            F.trunc("check_date", "month").isin(months)
        )
        compliance = sla_compliance(checks)
        overwrite_partitions(compliance, GOLD_SLA_COMPLIANCE, lake_root=lake_root, partitions=months)

    return run_on_changes(
        spark,
        recompute,
        product=PRODUCT,
        job="sla_compliance",
        changes_of=GOLD_FRESHNESS,
        tables=(GOLD_SLA_COMPLIANCE,),
        lake_root=lake_root,
    )


def bytes_added(commit: Mapping[str, Any], *, location: str | None = None) -> int:
    """Bytes a Delta commit added: from its ``operation`` and ``operationMetrics`` where its
    writer recorded them (Spark), else the sizes of the files its log entry adds (delta-rs
    writers record no byte count), read from the table at ``location``."""
    metrics = commit.get("operationMetrics") or {}
    recorded = [
        name for name in BYTES_WRITTEN_METRICS.get(str(commit.get("operation")), ()) if name in metrics
    ]
    if not recorded:
        return _bytes_of_added_files(location, int(commit["version"])) if location else 0
    total = 0
    for name in recorded:
        try:
            total += int(metrics.get(name) or 0)
        except (TypeError, ValueError):
            continue
    return total


def _bytes_of_added_files(location: str, version: int) -> int:
    """The ``size`` of every ``add`` action of the log entry of ``version``; 0 when the entry is
    no longer in the log (cleaned up after a checkpoint) or the table is not on a local disk."""
    root = local_path(location)
    if root is None:
        return 0
    try:
        lines = (Path(root) / commit_name(version)).read_bytes().splitlines()
    except FileNotFoundError:
        return 0
    actions = (orjson.loads(line) for line in lines if line.strip())
    return sum(int(action["add"].get("size") or 0) for action in actions if "add" in action)


def version_bytes(
    spark: SparkSession, locations: Mapping[str, str], *, history_limit: int = 500
) -> DataFrame:
    """(table_name, version, bytes_written) of the newest ``history_limit`` commits of each table
    of ``locations`` (qualified name → location), from the Delta log through delta-rs."""
    rows: list[tuple[str, int, int]] = []
    for name, location in sorted(locations.items()):
        try:
            history: Sequence[dict[str, Any]] = open_table(location).history(history_limit)
        except TableNotFoundError:
            continue
        rows.extend((name, int(c["version"]), bytes_added(c, location=location)) for c in history)
    return spark.createDataFrame(rows, "table_name string, version long, bytes_written long")


def written_tables(attempts: DataFrame, catalog: Catalog) -> dict[str, str]:
    """Qualified name → location of the catalogued tables the attempts name in ``delta_versions``."""
    from pyspark.sql import functions as F

    named = {r[0] for r in attempts.select(F.explode(F.map_keys("delta_versions"))).distinct().collect()}
    return {e.qualified_name: e.location for e in catalog.entries.values() if e.qualified_name in named}


def _changed_days(changes: DataFrame) -> list[date]:
    return [r["run_date"] for r in changes.select("run_date").distinct().collect()]


def run_cost(spark: SparkSession, catalog: Catalog, *, lake_root: str, rates: CostRates) -> IncrementalRun:
    """Recompute the cost of the days with new silver attempts; ``catalog`` locates the tables
    they wrote, whose Delta logs give the bytes each version added."""
    from pyspark.sql import functions as F

    def recompute(changes: DataFrame, _: int) -> None:
        days = _changed_days(changes)
        if not days:
            return
        attempts = read_table(spark, SILVER_RUNS, lake_root=lake_root).filter(F.col("run_date").isin(days))
        attempts = attempts.cache()
        sizes = version_bytes(spark, written_tables(attempts, catalog))
        overwrite_partitions(
            asset_cost(attempts, sizes, rates), GOLD_COST, lake_root=lake_root, partitions=days
        )
        attempts.unpersist()

    return run_on_changes(
        spark,
        recompute,
        product=PRODUCT,
        job="cost",
        changes_of=SILVER_RUNS,
        tables=(GOLD_COST,),
        lake_root=lake_root,
    )


def run_anomalies(
    spark: SparkSession,
    catalog: Catalog,
    *,
    lake_root: str,
    rates: CostRates,
    config: AnomalyConfig,
) -> IncrementalRun:
    """Score the succeeded attempts of the days with new silver attempts against their seasonal
    baselines (the attempts of the ``training_weeks`` before, incident windows left out)."""
    from pyspark.sql import functions as F

    def recompute(changes: DataFrame, _: int) -> None:
        days = _changed_days(changes)
        if not days:
            return
        since = min(days) - timedelta(weeks=config.training_weeks, days=1)
        attempts = read_table(spark, SILVER_RUNS, lake_root=lake_root)
        attempts = attempts.filter((F.col("run_date") >= since) & (F.col("run_date") <= max(days))).cache()
        sizes = version_bytes(spark, written_tables(attempts, catalog))
        found = anomalies(
            attempts,
            read_table(spark, GOLD_INCIDENTS, lake_root=lake_root),
            sizes,
            days=days,
            rates=rates,
            config=config,
        )
        overwrite_partitions(found, GOLD_ANOMALIES, lake_root=lake_root, partitions=days)
        attempts.unpersist()

    return run_on_changes(
        spark,
        recompute,
        product=PRODUCT,
        job="anomalies",
        changes_of=SILVER_RUNS,
        tables=(GOLD_INCIDENTS, GOLD_ANOMALIES),
        lake_root=lake_root,
    )
