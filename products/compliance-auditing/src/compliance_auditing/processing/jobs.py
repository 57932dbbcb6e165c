"""The edges of the product's processing: read, call the pure transforms, write.

- :func:`run_silver`: new bronze audit records → silver audit trail (linked into its day's chain)
  and quarantine, exactly once per bronze commit; the roots of the batch's days are recomputed
  from the stored links (so a batch replayed after a crash between the two writes repairs them);
- :func:`run_accesses`: the days silver's change feed touched, recomputed (partition overwrite);
- :func:`run_key_reads`: the same days' reads of people per key, judged against each key's
  baseline (partition overwrite);
- :func:`execute_erasures`: every pending erasure request executed, proven and certified.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from compliance_auditing import PRODUCT
from compliance_auditing.config import UnusualAccessConfig
from compliance_auditing.processing.chain import ChainEnd, extend_chain
from compliance_auditing.processing.gold import accesses_daily, baseline_window, key_reads_daily
from compliance_auditing.processing.silver import RECORD_COLUMNS, parse_audit, split_resent
from compliance_auditing.storage.tables import (
    BRONZE_AUDIT,
    GOLD_ACCESSES_DAILY,
    GOLD_KEY_READS_DAILY,
    QUARANTINE_AUDIT,
    SILVER_AUDIT_TRAIL,
    SILVER_CHAIN_ROOTS,
)
from lakehouse_core.delta import (
    ensure_table,
    merge_insert_new,
    merge_upsert,
    overwrite_partitions,
    read_table,
)
from lakehouse_core.incremental import IncrementalRun, IncrementalSource, run_incrementally, run_on_changes
from lakehouse_core.tables import checkpoint_location

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

QUARANTINE_KEYS = ("source_topic", "source_partition", "source_offset")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(micros: int) -> datetime:
    """An exact UTC datetime from epoch microseconds (Spark hands back naive local times)."""
    return _EPOCH + timedelta(microseconds=micros)


def chain_ends(trail: DataFrame, days: list[date]) -> dict[date, ChainEnd]:
    """The last stored link of each of ``days`` that has one."""
    from pyspark.sql import functions as F

    ends = (
        trail.where(F.col("day").isin(days))
        .groupBy("day")
        .agg(F.max_by(F.struct("seq", "record_hash"), F.col("seq")).alias("end"))
        .collect()
    )
    return {r["day"]: ChainEnd(int(r["end"]["seq"]), r["end"]["record_hash"]) for r in ends}


def link_new_records(spark: SparkSession, new: DataFrame, trail: DataFrame) -> DataFrame:
    """``new`` records (from :func:`split_resent`) linked after their days' stored chains, as
    silver audit entries. Each day's chain is sequential, so the links are made on the driver,
    one batch at a time (docs/DESIGN.md gives the bound)."""
    from pyspark.sql import functions as F

    rows = new.withColumn("_micros", F.unix_micros("occurred_at")).collect()
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        record = row.asDict(recursive=True)
        record["occurred_at"] = _utc(record.pop("_micros"))
        by_day[record["day"]].append(record)
    ends = chain_ends(trail, list(by_day)) if by_day else {}
    columns = SILVER_AUDIT_TRAIL.schema.fieldNames()
    linked = [
        tuple(link[c] for c in columns)
        for day, records in sorted(by_day.items())
        for link in extend_chain(records, ends.get(day, ChainEnd()))
    ]
    return spark.createDataFrame(linked, SILVER_AUDIT_TRAIL.schema)


def chain_roots(trail: DataFrame) -> DataFrame:
    """One root per day of ``trail``: its links and the last link's hash."""
    from pyspark.sql import functions as F

    return trail.groupBy("day").agg(
        F.count(F.lit(1)).alias("count"),
        F.max_by("record_hash", "seq").alias("root_hash"),
        F.current_timestamp().alias("updated_at"),
    )


def run_silver(spark: SparkSession, *, lake_root: str) -> IncrementalRun:
    """Refine the bronze audit records not processed yet into the chained audit trail."""
    from pyspark.sql import functions as F

    for spec in (BRONZE_AUDIT, SILVER_AUDIT_TRAIL, SILVER_CHAIN_ROOTS, QUARANTINE_AUDIT):
        ensure_table(spark, spec, lake_root=lake_root)

    def refine(batch: DataFrame, _: int) -> None:
        records, invalid = parse_audit(batch)
        records = records.cache()
        trail = read_table(spark, SILVER_AUDIT_TRAIL, lake_root=lake_root)
        new, resent = split_resent(records, trail)
        links = link_new_records(
            spark, new.select(*RECORD_COLUMNS, "day", "source_partition", "source_offset"), trail
        )
        merge_insert_new(links, SILVER_AUDIT_TRAIL, lake_root=lake_root, keys=["record_id"])
        days = [r["day"] for r in records.select("day").distinct().collect()]
        if days:
            stored = read_table(spark, SILVER_AUDIT_TRAIL, lake_root=lake_root).where(F.col("day").isin(days))
            merge_upsert(chain_roots(stored), SILVER_CHAIN_ROOTS, lake_root=lake_root, keys=["day"])
        quarantine = invalid.unionByName(resent)
        merge_insert_new(quarantine, QUARANTINE_AUDIT, lake_root=lake_root, keys=QUARANTINE_KEYS)
        records.unpersist()

    source = IncrementalSource(
        location=BRONZE_AUDIT.location(lake_root),
        checkpoint=checkpoint_location(lake_root, PRODUCT, "silver"),
    )
    return run_incrementally(spark, source, refine, name=f"{PRODUCT}-silver")


def run_accesses(spark: SparkSession, *, lake_root: str) -> IncrementalRun:
    """Recompute the accesses of the days with new audit entries."""
    from pyspark.sql import functions as F

    def recompute(changes: DataFrame, _: int) -> None:
        days = [r["day"] for r in changes.select("day").distinct().collect()]
        if not days:
            return
        trail = read_table(spark, SILVER_AUDIT_TRAIL, lake_root=lake_root).filter(F.col("day").isin(days))
        overwrite_partitions(accesses_daily(trail), GOLD_ACCESSES_DAILY, lake_root=lake_root, partitions=days)

    return run_on_changes(
        spark,
        recompute,
        product=PRODUCT,
        job="accesses_daily",
        changes_of=SILVER_AUDIT_TRAIL,
        tables=(GOLD_ACCESSES_DAILY,),
        lake_root=lake_root,
    )


def run_key_reads(spark: SparkSession, config: UnusualAccessConfig, *, lake_root: str) -> IncrementalRun:
    """Recompute each key's reads of people on the days with new audit entries, against the
    baseline days before them."""
    from pyspark.sql import functions as F

    def recompute(changes: DataFrame, _: int) -> None:
        days = [r["day"] for r in changes.select("day").distinct().collect()]
        if not days:
            return
        first, last = baseline_window(days, config)
        trail = read_table(spark, SILVER_AUDIT_TRAIL, lake_root=lake_root).filter(
            F.col("day").between(first, last)
        )
        overwrite_partitions(
            key_reads_daily(trail, days, config), GOLD_KEY_READS_DAILY, lake_root=lake_root, partitions=days
        )

    return run_on_changes(
        spark,
        recompute,
        product=PRODUCT,
        job="key_reads_daily",
        changes_of=SILVER_AUDIT_TRAIL,
        tables=(GOLD_KEY_READS_DAILY,),
        lake_root=lake_root,
    )
