"""Silver audit trail → gold accesses per day and each key's reads of people against its
baseline (pure)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from compliance_auditing.config import UnusualAccessConfig
from compliance_auditing.contracts import AccessesDaily, KeyReadsDaily
from lakehouse_core.contracts import conform

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def accesses_daily(trail: DataFrame) -> DataFrame:
    """:class:`AccessesDaily` of the audit entries ``trail``: one row per day, resource, role,
    API key id and action. A key with several roles counts under each; one without under null."""
    from pyspark.sql import functions as F

    by_role = trail.withColumn("role", F.explode_outer(F.when(F.size("roles") > 0, F.col("roles"))))
    counted = by_role.groupBy("day", "resource", "role", "api_key_id", "action").agg(
        F.count(F.lit(1)).alias("accesses"),
        F.count(F.when(F.col("outcome") == "denied", True)).alias("denied"),
        F.count_distinct("subject_key").alias("subjects"),
    )
    return conform(counted, AccessesDaily)


def baseline_window(days: list[date], config: UnusualAccessConfig) -> tuple[date, date]:
    """The first and last day of audit entries that :func:`key_reads_daily` needs for ``days``."""
    return min(days) - timedelta(days=config.baseline_days), max(days)


def key_reads_daily(trail: DataFrame, days: list[date], config: UnusualAccessConfig) -> DataFrame:
    """:class:`KeyReadsDaily` of ``days``, from ``trail`` holding those days and the
    ``baseline_days`` before them (:func:`baseline_window`). Only successful reads by a key that
    name a subject count; the baseline is the median over the days in the window the key read
    anyone (a quiet day is not a zero, so a weekly job is judged against its own weekly runs)."""
    from pyspark.sql import functions as F

    per_day = (
        trail.where(
            (F.col("action") == "read")
            & (F.col("outcome") == "succeeded")
            & F.col("subject_key").isNotNull()
            & F.col("api_key_id").isNotNull()
        )
        .groupBy("day", "api_key_id")
        .agg(F.count_distinct("subject_key").alias("subjects"), F.count(F.lit(1)).alias("reads"))
    )
    target = per_day.where(F.col("day").isin(days)).alias("t")
    history = per_day.alias("h")
    in_window = (
        (F.col("h.api_key_id") == F.col("t.api_key_id"))
        & (F.col("h.day") < F.col("t.day"))
        & (F.col("h.day") >= F.date_sub(F.col("t.day"), config.baseline_days))
    )
    judged = (
        target.join(history, in_window, "left")
        .groupBy("t.day", "t.api_key_id", "t.subjects", "t.reads")
        .agg(
            F.median("h.subjects").alias("baseline_subjects"),
            F.count("h.day").alias("baseline_days"),
        )
        .withColumn(
            "threshold",
            F.greatest(
                F.lit(float(config.min_subjects)),
                F.coalesce(F.col("baseline_subjects"), F.lit(0.0)) * F.lit(config.factor),
            ),
        )
        .withColumn("unusual", F.col("subjects") > F.col("threshold"))
    )
    return conform(judged, KeyReadsDaily)
