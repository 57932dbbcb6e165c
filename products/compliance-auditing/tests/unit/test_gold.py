"""Audit entries → accesses per day, resource, role, key and action, and each key's reads of
people against its baseline."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from compliance_auditing.config import UnusualAccessConfig
from compliance_auditing.processing.gold import accesses_daily, baseline_window, key_reads_daily

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


def reads(
    day: date, key: str | None, subjects: int, *, outcome: str = "succeeded"
) -> list[tuple[object, ...]]:
    return [(day, key, "read", outcome, f"sk-{i}") for i in range(subjects)]


def test_a_key_reading_far_more_people_than_its_baseline_is_unusual(spark: SparkSession) -> None:
    from datetime import timedelta

    config = UnusualAccessConfig(baseline_days=7, factor=5.0, min_subjects=10)
    history = [DAY - timedelta(days=n) for n in range(1, 8)]
    rows = [
        *(r for day in history for r in reads(day, "steady", 4)),
        *reads(DAY - timedelta(days=8), "steady", 500),
        *reads(DAY, "steady", 21),
        *(r for day in history for r in reads(day, "busy", 100)),
        *reads(DAY, "busy", 400),
        *reads(DAY, "new", 11),
        *reads(DAY, "quiet-new", 10),
        *reads(DAY, "denied", 50, outcome="denied"),
        *reads(DAY, None, 50),
        (DAY, "steady", "write", "succeeded", "sk-w"),
        (DAY, "steady", "read", "succeeded", None),
    ]
    trail = spark.createDataFrame(
        rows, "day date, api_key_id string, action string, outcome string, subject_key string"
    )
    first, last = baseline_window([DAY], config)

    judged = {
        r["api_key_id"]: r
        for r in key_reads_daily(trail.where(F.col("day").between(first, last)), [DAY], config).collect()
    }

    assert set(judged) == {"steady", "busy", "new", "quiet-new"}
    steady = judged["steady"]
    assert (steady["subjects"], steady["baseline_subjects"], steady["baseline_days"]) == (21, 4.0, 7)
    assert (steady["threshold"], steady["unusual"]) == (20.0, True)
    assert (judged["busy"]["threshold"], judged["busy"]["unusual"]) == (500.0, False)
    assert (judged["new"]["baseline_subjects"], judged["new"]["unusual"]) == (None, True)
    assert judged["quiet-new"]["unusual"] is False
    assert {r["day"] for r in judged.values()} == {DAY}
