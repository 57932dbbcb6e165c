"""Every table version a task commits becomes one ``platform.audit.v1`` write record, with an id
that a re-send keeps; and the rows a commit wrote come from its Delta operation metrics."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.platform_topics import AuditRecord
from lakehouse_platform.orchestrator import (
    KafkaAuditRecorder,
    Pipeline,
    RunContext,
    Task,
    run_pipeline,
    write_audit_records,
)
from lakehouse_platform.task_reports import rows_written
from lakehouse_testing.declarations import RECORDED_AT as AT
from lakehouse_testing.declarations import attempt_record as attempt
from lakehouse_testing.plugin import KafkaFixture


@pytest.mark.unit
def test_one_write_record_per_table_version_with_an_id_stable_across_re_records() -> None:
    done = attempt(
        delta_versions={"shop.silver.visits": 4, "shop.quarantine.rejected": 2},
        rows_written={"shop.silver.visits": 10},
    )
    records = write_audit_records(done)

    assert [(r.action, r.resource_type, r.resource, r.resource_version) for r in records] == [
        ("write", "table", "shop.quarantine.rejected", 2),
        ("write", "table", "shop.silver.visits", 4),
    ]
    assert {(r.service, r.correlation_id, r.outcome, r.occurred_at) for r in records} == {
        ("shop", "r1", "succeeded", AT)
    }
    assert records[1].detail == "silver attempt 1 committed version 4 (10 rows written)"
    assert [r.record_id for r in write_audit_records(done)] == [r.record_id for r in records]
    assert len({r.record_id for r in records}) == 2
    assert write_audit_records(attempt("failed", delta_versions={"shop.silver.visits": 5})) == []


@pytest.mark.unit
def test_rows_written_count_appends_and_merged_inserts_and_updates_but_not_deletes_or_rewrites() -> None:
    commits = [
        {"version": 5, "operation": "MERGE", "operationMetrics": {"numTargetRowsInserted": "3",
         "numTargetRowsUpdated": "2", "numTargetRowsDeleted": "7", "numTargetRowsCopied": "50"}},
        {"version": 4, "operation": "STREAMING UPDATE", "operationMetrics": {"numOutputRows": "12"}},
        {"version": 3, "operation": "OPTIMIZE", "operationMetrics": {"numRemovedFiles": "9"}},
        {"version": 2, "operation": "DELETE", "operationMetrics": {"numDeletedRows": "4"}},
        {"version": 1, "operation": "WRITE", "operationMetrics": {"numOutputRows": "1"}},
        {"version": 0, "operation": "CREATE TABLE", "operationMetrics": {}},
    ]  # fmt: skip

    assert rows_written(commits) == 3 + 2 + 12 + 1


@pytest.mark.integration
def test_write_records_reach_the_audit_topic_once_each_by_id(
    kafka_broker: KafkaFixture, tmp_path: Path
) -> None:
    topic = f"test.audit.{uuid.uuid4().hex[:8]}"

    def silver(_: RunContext) -> Mapping[str, Any]:
        return {"delta_versions": {"shop.silver.visits": 7, "shop.silver.pages": 3}}

    recorder = KafkaAuditRecorder(kafka_broker.bootstrap_servers, spool_dir=tmp_path / "spool", topic=topic)
    with recorder:
        run = run_pipeline(
            Pipeline(
                "shop", [Task("topics", lambda _: None), Task("silver", silver, depends_on=("topics",))]
            ),
            recorders=[recorder],
        )
        again = attempt(run_id=run.run_id, delta_versions={"shop.silver.visits": 7})
        recorder.record_attempt(again)  # the same write recorded twice, e.g. re-sent by a retry
        assert recorder.publisher.flush(timeout=30)

    consumer = build_consumer(kafka_broker.bootstrap_servers, group_id=f"g-{topic}", topics=[topic])
    try:
        messages = [m for batch in consume_batches(consumer, idle_timeout=3) for m in batch]
    finally:
        consumer.close()
    records = [AuditRecord.model_validate_json(m.value() or b"") for m in messages]
    assert len(records) == 3
    by_id = {r.record_id: r for r in records}
    assert sorted((r.resource, r.resource_version) for r in by_id.values()) == [
        ("shop.silver.pages", 3),
        ("shop.silver.visits", 7),
    ]
    assert {(r.service, r.action, r.correlation_id) for r in by_id.values()} == {
        ("shop", "write", run.run_id)
    }
    assert {m.key() for m in messages} == {b"shop.silver.pages", b"shop.silver.visits"}
