"""Audit entries → accesses per day, resource, role, key and action."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import SparkSession

from compliance_auditing.processing.gold import accesses_daily

pytestmark = pytest.mark.unit

DAY = date(2026, 3, 2)


def test_accesses_count_each_role_of_a_key_and_keys_without_roles_under_null(spark: SparkSession) -> None:
    trail = spark.createDataFrame(
        [
            (DAY, "GET /v1/u", ["admin", "analyst"], "k1", "read", "succeeded", "sk-1"),
            (DAY, "GET /v1/u", ["analyst"], "k1", "read", "denied", "sk-2"),
            (DAY, "GET /v1/u", ["analyst"], "k1", "read", "succeeded", "sk-1"),
            (DAY, "GET /v1/u", [], None, "read", "denied", None),
            (DAY, "web.silver.events", [], None, "write", "succeeded", None),
        ],
        "day date, resource string, roles array<string>, api_key_id string, action string, "
        "outcome string, subject_key string",
    )

    rows = {
        (r["resource"], r["role"], r["api_key_id"], r["action"]): (r["accesses"], r["denied"], r["subjects"])
        for r in accesses_daily(trail).collect()
    }

    assert rows == {
        ("GET /v1/u", "admin", "k1", "read"): (1, 0, 1),
        ("GET /v1/u", "analyst", "k1", "read"): (3, 1, 2),
        ("GET /v1/u", None, None, "read"): (1, 1, 0),
        ("web.silver.events", None, None, "write"): (1, 0, 0),
    }
