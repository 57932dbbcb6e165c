"""Silver run attempts → gold (pure): run statistics per product, asset and day, and each
catalogued table's freshness against its SLA. docs/METRICS.md defines every column."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from operational_metrics.contracts import RunStats, TableFreshness

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

STATS_KEYS = ("date", "product", "asset")


def run_stats(attempts: DataFrame) -> DataFrame:
    """:class:`RunStats` of every (day of ``started_at``, product, asset) in ``attempts``."""
    from pyspark.sql import functions as F

    ran = F.col("status") != "skipped"
    final = F.col("final_attempt") & ran

    def count(condition: Column) -> Column:
        return F.count(F.when(condition, True))

    def duration(expression: str) -> Column:
        return F.expr(expression.format(d="IF(status <> 'skipped', duration_seconds, NULL)"))

    stats = attempts.groupBy(F.col("run_date").alias("date"), "product", "asset").agg(
        count(final).alias("runs"),
        count(final & (F.col("status") == "succeeded")).alias("successes"),
        count(final & (F.col("status") == "failed")).alias("failures"),
        count(ran).alias("attempts"),
        count(F.col("status") == "failed").alias("failed_attempts"),
        count(F.col("attempt") > 1).alias("retries"),
        count(~ran).alias("skipped"),
        duration("percentile({d}, 0.5)").alias("duration_p50_seconds"),
        duration("percentile({d}, 0.95)").alias("duration_p95_seconds"),
        duration("max({d})").alias("duration_max_seconds"),
        F.sum("rows_read").alias("rows_read"),
        F.sum("rows_written").alias("rows_written"),
        F.sum("rows_quarantined").alias("rows_quarantined"),
    )
    rate = F.when(F.col("rows_read") > 0, F.col("rows_quarantined") / F.col("rows_read"))
    return conform(stats.withColumn("quarantine_rate", rate), RunStats)


def backfill_writes(attempts: DataFrame) -> DataFrame:
    """(table_name, version, partition_end) of every table version an attempt of a day-partitioned
    run (a backfill) committed: those versions recompute old days, they bring no new data."""
    from pyspark.sql import functions as F

    return (
        attempts.filter(F.col("partition_end").isNotNull())
        .select(F.explode("delta_versions").alias("table_name", "version"), "partition_end")
        .groupBy("table_name", "version")
        .agg(F.max("partition_end").alias("partition_end"))
    )


def freshness(
    tables: DataFrame, commits: DataFrame, backfills: DataFrame, *, checked_at: datetime
) -> DataFrame:
    """:class:`TableFreshness` of every table of ``tables`` (table_name, product, layer,
    warn_minutes, breach_minutes) at ``checked_at``, from its data ``commits`` (table_name,
    version, committed_at) and the versions ``backfills`` wrote (:func:`backfill_writes`).

    A commit's data time is its commit time, except for a version a backfill of days up to D
    wrote: then it is the end of D (midnight after it), if earlier. The newest data is the
    latest data time of the table's commits."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    end_of_days = F.date_add("partition_end", 1).cast("timestamp")
    timed = (
        commits.join(backfills, ["table_name", "version"], "left")
        .withColumn(
            "data_at",
            F.when(F.col("partition_end").isNotNull(), F.least("committed_at", end_of_days)).otherwise(
                F.col("committed_at")
            ),
        )
        .withColumn(
            "source",
            F.when(F.col("data_at") < F.col("committed_at"), F.lit("partition")).otherwise(F.lit("commit")),
        )
    )
    newest_data = Window.partitionBy("table_name").orderBy(F.col("data_at").desc(), F.col("version").desc())
    per_table = (
        timed.withColumn("_rank", F.row_number().over(newest_data))
        .filter(F.col("_rank") == 1)
        .select(
            "table_name",
            F.col("data_at").alias("newest_data_at"),
            F.col("source").alias("data_time_source"),
        )
    )
    latest = commits.groupBy("table_name").agg(
        F.max("version").alias("newest_version"), F.max("committed_at").alias("newest_commit_at")
    )
    checked = F.lit(checked_at).cast("timestamp")
    age = checked.cast("double") - F.col("newest_data_at").cast("double")
    state = (
        F.when(F.col("newest_data_at").isNull(), F.lit("missing"))
        .when(age >= F.col("breach_minutes") * 60, F.lit("breach"))
        .when(age >= F.col("warn_minutes") * 60, F.lit("warn"))
        .otherwise(F.lit("ok"))
    )
    result = (
        tables.join(latest, "table_name", "left")
        .join(per_table, "table_name", "left")
        .withColumn("checked_at", checked)
        .withColumn("check_date", F.to_date(checked))
        .withColumn("data_time_source", F.coalesce("data_time_source", F.lit("none")))
        .withColumn("age_seconds", age)
        .withColumn("state", state)
    )
    return conform(result, TableFreshness)
