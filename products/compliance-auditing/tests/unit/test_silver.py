"""Bronze audit records → the chained silver audit trail, through the silver job on a tiny
bronze table: one link per record_id across batches, re-sends and malformed records in
quarantine with their rule, a second batch extending the day's chain, and ``verify`` naming a
tampered link."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from compliance_auditing.cli import app
from compliance_auditing.processing.jobs import run_silver
from compliance_auditing.processing.verify import verify_day
from compliance_auditing.storage.tables import (
    BRONZE_AUDIT,
    QUARANTINE_AUDIT,
    SILVER_AUDIT_TRAIL,
    SILVER_CHAIN_ROOTS,
)
from lakehouse_core.delta import append, read_table
from lakehouse_core.platform_topics import AuditRecord

pytestmark = pytest.mark.unit

DAY = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)


def audit(record_id: str, minute: int, **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "record_id": record_id,
        "occurred_at": T0 + timedelta(minutes=minute),
        "service": "web-user-analytics",
        "api_key_id": "k1",
        "roles": ["analyst", "admin"],
        "action": "read",
        "resource_type": "endpoint",
        "resource": "GET /v1/users/{subject_key}",
        "subject_key": "sk-1",
        "outcome": "succeeded",
        "status_code": 200,
    }
    return AuditRecord(**{**fields, **overrides}).model_dump_json()


def bronze(values: list[str], first_offset: int) -> list[tuple[Any, ...]]:
    return [
        (None, value, "platform.audit.v1", 0, first_offset + i, T0, T0, DAY, None)
        for i, value in enumerate(values)
    ]


def links(spark: SparkSession, lake_root: str) -> dict[str, tuple[int, str, str]]:
    rows = read_table(spark, SILVER_AUDIT_TRAIL, lake_root=lake_root).collect()
    return {r["record_id"]: (r["seq"], r["prev_hash"], r["record_hash"]) for r in rows}


def test_records_are_linked_once_across_batches_and_tampering_is_named(
    spark: SparkSession, lake_root: str
) -> None:
    first = [
        audit("b", 1),
        audit("a", 0),
        audit("c", 5, action="write", resource_type="table", resource="w.s.e"),
    ]
    append(spark.createDataFrame(bronze(first, 0), BRONZE_AUDIT.schema), BRONZE_AUDIT, lake_root=lake_root)
    run_silver(spark, lake_root=lake_root)
    after_first = links(spark, lake_root)

    second = [
        audit("a", 0),
        audit("d", 0, outcome="denied", status_code=403),
        '{"record_id": "e", "service": "x"}',
        audit("f", 3).replace('"read"', '"peek"'),
        "not json",
    ]
    append(spark.createDataFrame(bronze(second, 3), BRONZE_AUDIT.schema), BRONZE_AUDIT, lake_root=lake_root)
    run_silver(spark, lake_root=lake_root)

    stored = links(spark, lake_root)
    assert {k: v[0] for k, v in stored.items()} == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert {k: stored[k] for k in after_first} == after_first
    assert stored["d"][1] == stored["c"][2]
    quarantined = {
        (r["source_offset"], tuple(r["failed_rules"]))
        for r in read_table(spark, QUARANTINE_AUDIT, lake_root=lake_root).collect()
    }
    assert quarantined == {
        (3, ("unique_record_id",)),
        (5, ("required_fields",)),
        (6, ("known_action",)),
        (7, ("valid_json_object",)),
    }
    roots = read_table(spark, SILVER_CHAIN_ROOTS, lake_root=lake_root).collect()
    assert [(r["day"], r["count"], r["root_hash"]) for r in roots] == [(DAY, 4, stored["d"][2])]
    runner = CliRunner()
    intact = runner.invoke(app, ["verify", "--day", "2026-03-02"], env={"LAKEHOUSE_LAKE_ROOT": lake_root})
    assert intact.exit_code == 0, intact.output
    assert "intact, 4 links" in intact.output

    trail = SILVER_AUDIT_TRAIL.location(lake_root)
    spark.sql(f"UPDATE delta.`{trail}` SET subject_key = 'sk-2' WHERE record_id = 'b'")

    assert verify_day(lake_root, DAY).broken == (
        "seq 2 (record_id b): record_hash does not match the record (a field or the hash was changed)"
    )
    broken = runner.invoke(app, ["verify", "--day", "2026-03-02"], env={"LAKEHOUSE_LAKE_ROOT": lake_root})
    assert broken.exit_code == 1
    assert "seq 2 (record_id b)" in broken.output
