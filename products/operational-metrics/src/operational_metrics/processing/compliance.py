"""Gold freshness checks → SLA compliance per table per UTC day and per month (pure).
docs/METRICS.md defines every column."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from operational_metrics.contracts import SlaCompliance

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

TABLE_KEYS = ("table_name", "product", "layer")


def _per_period(checks: DataFrame, period: str, start: Column) -> DataFrame:
    from pyspark.sql import functions as F

    def count(state: str) -> Column:
        return F.count(F.when(F.col("state") == state, True))

    grouped = checks.groupBy(start.alias("period_start"), *TABLE_KEYS).agg(
        F.count(F.lit(1)).alias("checks"),
        count("ok").alias("ok_checks"),
        count("warn").alias("warn_checks"),
        count("breach").alias("breach_checks"),
        count("missing").alias("missing_checks"),
        F.max_by("warn_minutes", "checked_at").alias("warn_minutes"),
        F.max_by("breach_minutes", "checked_at").alias("breach_minutes"),
    )
    with_data = F.col("checks") - F.col("missing_checks")

    def share(column: Column) -> Column:
        return F.when(with_data > 0, column / with_data)

    return (
        grouped.withColumn("period", F.lit(period))
        .withColumn("month", F.trunc("period_start", "month"))
        .withColumn("ok_share", share(F.col("ok_checks")))
        .withColumn("warn_share", share(F.col("warn_checks")))
        .withColumn("breach_share", share(F.col("breach_checks")))
        .withColumn("compliance", share(F.col("ok_checks") + F.col("warn_checks")))
    )


def sla_compliance(checks: DataFrame) -> DataFrame:
    """:class:`SlaCompliance` of every table in the freshness ``checks``: one row per UTC day
    (``period`` = ``day``) and one per month (``month``) the checks fall on. A month's row is
    only complete when ``checks`` hold the whole month."""
    from pyspark.sql import functions as F

    days = _per_period(checks, "day", F.col("check_date"))
    months = _per_period(checks, "month", F.trunc("check_date", "month"))
    return conform(days.unionByName(months), SlaCompliance)
