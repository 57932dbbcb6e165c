"""The platform topics' contracts: JSON Schema derived from the models, records that round-trip."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import orjson
import pytest
from pydantic import ValidationError

from lakehouse_core.platform_topics import (
    AUDIT,
    AUDIT_TOPIC,
    PIPELINE_RUNS,
    PIPELINE_RUNS_TOPIC,
    PLATFORM_TOPICS,
    AuditRecord,
    PipelineRunRecord,
    api_key_id,
    json_schema,
)

pytestmark = pytest.mark.unit

WHEN = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)


def run_record(**overrides: Any) -> PipelineRunRecord:
    fields: dict[str, Any] = {
        "product": "web-user-analytics",
        "asset": "silver",
        "run_id": "r1",
        "attempt": 2,
        "final_attempt": True,
        "status": "failed",
        "started_at": WHEN,
        "finished_at": WHEN,
        "rows_read": {"web.bronze.events": 120},
        "rows_written": {"web.silver.events": 100},
        "delta_versions": {"web.silver.events": 7},
        "rows_quarantined": {"event_time_plausible": 20},
        "cpu_seconds": 1.5,
        "peak_memory_bytes": 2_000_000,
        "error_class": "lakehouse_core.errors.JobError",
        "error_message": "web-user-analytics-silver failed",
    }
    return PipelineRunRecord(**{**fields, **overrides})


def audit_record(**overrides: Any) -> AuditRecord:
    fields: dict[str, Any] = {
        "occurred_at": WHEN,
        "service": "web-user-analytics-api",
        "api_key_id": api_key_id("k-reader"),
        "roles": ["user_reader"],
        "action": "read",
        "resource_type": "endpoint",
        "resource": "GET /v1/users/{visitor_id}/sessions",
        "subject_key": "v-1",
        "outcome": "succeeded",
        "status_code": 200,
    }
    return AuditRecord(**{**fields, **overrides})


def test_the_topics_are_named_and_specified_once() -> None:
    assert (PIPELINE_RUNS.name, AUDIT.name) == (PIPELINE_RUNS_TOPIC, AUDIT_TOPIC)
    assert (PIPELINE_RUNS_TOPIC, AUDIT_TOPIC) == ("platform.pipeline_runs.v1", "platform.audit.v1")
    assert set(PLATFORM_TOPICS) == {PIPELINE_RUNS_TOPIC, AUDIT_TOPIC}
    for topic in PLATFORM_TOPICS.values():
        assert topic.spec.partitions >= 1
        assert int(topic.spec.config["retention.ms"]) > 0
    assert int(AUDIT.spec.config["retention.ms"]) > int(PIPELINE_RUNS.spec.config["retention.ms"])


@pytest.mark.parametrize(("topic", "record"), [(PIPELINE_RUNS, run_record()), (AUDIT, audit_record())])
def test_records_round_trip_through_json_and_satisfy_the_derived_schema(topic: Any, record: Any) -> None:
    validator = jsonschema_rs.validator_for(json_schema(topic))
    wire = orjson.loads(record.model_dump_json())

    assert validator.is_valid(wire)
    assert topic.contract.model_validate_json(record.model_dump_json()) == record


@pytest.mark.parametrize(
    ("topic", "record", "field"),
    [(PIPELINE_RUNS, run_record(), "record_id"), (AUDIT, audit_record(), "outcome")],
)
def test_the_schema_refuses_a_record_without_a_required_field_or_with_an_unknown_one(
    topic: Any, record: Any, field: str
) -> None:
    validator = jsonschema_rs.validator_for(json_schema(topic))
    wire = orjson.loads(record.model_dump_json())

    assert not validator.is_valid({k: v for k, v in wire.items() if k != field})
    assert not validator.is_valid({**wire, "unexpected": 1})
    assert not validator.is_valid({**wire, "record_id": ""})


def test_the_run_schema_refuses_negative_counts_and_an_unknown_status() -> None:
    validator = jsonschema_rs.validator_for(json_schema(PIPELINE_RUNS))
    wire = orjson.loads(run_record().model_dump_json())

    assert not validator.is_valid({**wire, "rows_written": {"t": -1}})
    assert not validator.is_valid({**wire, "status": "retrying"})
    with pytest.raises(ValidationError):
        run_record(cpu_seconds=-0.1)


def test_audit_actions_are_the_five_kinds() -> None:
    schema = json_schema(AUDIT)
    assert set(schema["properties"]["action"]["enum"]) == {
        "read",
        "write",
        "erase",
        "retention",
        "key_management",
    }


def test_record_ids_are_unique_and_kept_through_a_round_trip() -> None:
    first, second = audit_record(), audit_record()
    assert first.record_id != second.record_id
    assert AuditRecord.model_validate_json(first.model_dump_json()).record_id == first.record_id


def test_the_api_key_id_is_a_short_keyed_fingerprint_never_the_key() -> None:
    key = "k-reader-0123456789"
    fingerprint = api_key_id(key)

    assert len(fingerprint) == 16
    assert key not in fingerprint
    assert api_key_id(key) == fingerprint
    assert api_key_id("k-reader-0123456788") != fingerprint
    assert api_key_id(key, secret=b"s3cret") != fingerprint
