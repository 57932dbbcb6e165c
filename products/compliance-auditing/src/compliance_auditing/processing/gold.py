"""Silver audit trail → gold accesses per day (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from compliance_auditing.contracts import AccessesDaily
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
