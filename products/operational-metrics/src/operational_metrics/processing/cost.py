"""Silver run attempts → what they cost (pure): each attempt is priced from its own measured CPU
seconds, peak memory and the bytes its committed Delta versions added, never from a share of
the wall clock, so two products running at once each pay for what they used.
docs/METRICS.md ("Cost") defines every column."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from operational_metrics.config import CostRates
from operational_metrics.contracts import AssetCost

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Bytes in a GB, for memory and storage prices (GiB, as cloud providers bill memory).
GB = float(2**30)
COST_KEYS = ("date", "product", "asset")


def attempt_bytes(attempts: DataFrame, version_bytes: DataFrame) -> DataFrame:
    """(record_id, bytes_written) of every attempt of ``attempts``: the bytes the versions it names
    in ``delta_versions`` added, from ``version_bytes`` (table_name, version, bytes_written); 0 for
    a version ``version_bytes`` does not know."""
    from pyspark.sql import functions as F

    written = attempts.select("record_id", F.explode("delta_versions").alias("table_name", "version"))
    per_attempt = (
        written.join(version_bytes, ["table_name", "version"], "left")
        .groupBy("record_id")
        .agg(F.sum(F.coalesce("bytes_written", F.lit(0))).alias("bytes_written"))
    )
    return (
        attempts.select("record_id")
        .join(per_attempt, "record_id", "left")
        .select("record_id", F.coalesce("bytes_written", F.lit(0)).cast("long").alias("bytes_written"))
    )


def priced_attempts(attempts: DataFrame, version_bytes: DataFrame, rates: CostRates) -> DataFrame:
    """The attempts that ran (skipped ones cost nothing), each with its ``bytes_written``,
    ``memory_gb_hours``, ``cpu_cost``, ``memory_cost``, ``storage_cost`` and ``cost``."""
    from pyspark.sql import functions as F

    ran = attempts.filter(F.col("status") != "skipped")
    gb_hours = (F.col("peak_memory_bytes") / F.lit(GB)) * (F.col("duration_seconds") / F.lit(3600.0))
    return (
        ran.join(attempt_bytes(ran, version_bytes), "record_id", "left")
        .withColumn("memory_gb_hours", gb_hours)
        .withColumn("cpu_cost", F.col("cpu_seconds") / F.lit(3600.0) * F.lit(rates.core_hour))
        .withColumn("memory_cost", F.col("memory_gb_hours") * F.lit(rates.gb_hour_memory))
        .withColumn("storage_cost", F.col("bytes_written") / F.lit(GB) * F.lit(rates.gb_month_storage))
        .withColumn("cost", F.col("cpu_cost") + F.col("memory_cost") + F.col("storage_cost"))
    )


def asset_cost(attempts: DataFrame, version_bytes: DataFrame, rates: CostRates) -> DataFrame:
    """:class:`AssetCost` of every (day of ``started_at``, product, asset) in ``attempts``."""
    from pyspark.sql import functions as F

    daily = (
        priced_attempts(attempts, version_bytes, rates)
        .groupBy(F.col("run_date").alias("date"), "product", "asset")
        .agg(
            F.count(F.lit(1)).alias("attempts"),
            F.sum("cpu_seconds").alias("cpu_seconds"),
            F.max("peak_memory_bytes").alias("peak_memory_bytes"),
            F.sum("memory_gb_hours").alias("memory_gb_hours"),
            F.sum("bytes_written").alias("bytes_written"),
            F.sum("rows_written").alias("rows_written"),
            F.sum("cpu_cost").alias("cpu_cost"),
            F.sum("memory_cost").alias("memory_cost"),
            F.sum("storage_cost").alias("storage_cost"),
            F.sum("cost").alias("cost"),
        )
    )
    per_thousand = F.when(F.col("rows_written") > 0, F.col("cost") / F.col("rows_written") * 1000.0)
    return conform(daily.withColumn("cost_per_1000_rows", per_thousand), AssetCost)
