"""The platform topics every product publishes to, with their contracts: one schema, written once.

- ``platform.pipeline_runs.v1`` (:class:`PipelineRunRecord`): one record per attempt of an
  asset (a task run) of any product; operational-metrics consumes it.
- ``platform.audit.v1`` (:class:`AuditRecord`): one record per access to or change of data;
  compliance-auditing consumes it.

Each record has a ``record_id`` that stays the same however often the record is re-sent (the
spooled publisher delivers at least once), so a consumer counts a record once by its id. The
JSON Schema of a topic is derived from its model (:func:`json_schema`); its :class:`TopicSpec`
(partitions, retention) is what a publisher ensures before it sends.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt

from lakehouse_core.kafka.admin import TopicSpec

PIPELINE_RUNS_TOPIC = "platform.pipeline_runs.v1"
AUDIT_TOPIC = "platform.audit.v1"

_DAY_MS = 24 * 60 * 60 * 1000

AttemptStatus = Literal["succeeded", "failed", "skipped"]
AuditAction = Literal["read", "write", "erase", "retention", "key_management"]
AuditOutcome = Literal["succeeded", "denied", "invalid", "failed"]
ResourceType = Literal["table", "endpoint", "topic", "api_key"]


def new_record_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(tz=UTC)


class PlatformRecord(BaseModel):
    """What every platform record has: an id a consumer deduplicates on."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)

    record_id: str = Field(
        default_factory=new_record_id,
        min_length=1,
        description="Unique per record and kept when the record is re-sent: count a record once by it.",
    )


class PipelineRunRecord(PlatformRecord):
    """One attempt of one asset (task) of a product's pipeline run."""

    product: str = Field(min_length=1, description="The product whose pipeline ran (its pipeline's name).")
    asset: str = Field(min_length=1, description="The asset (task) that ran.")
    run_id: str = Field(min_length=1, description="The pipeline run this attempt belongs to.")
    partition: str | None = Field(
        default=None, description="The partition the attempt computed, when the asset is partitioned."
    )
    attempt: NonNegativeInt = Field(
        description="1 for the first attempt; 0 for a task skipped without running."
    )
    final_attempt: bool = Field(
        description="False when the attempt failed and the task is retried; the task's outcome is the "
        "status of its final attempt."
    )
    status: AttemptStatus
    started_at: datetime
    finished_at: datetime
    rows_read: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="Rows read, by table, as the task reported them."
    )
    rows_written: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="Rows written, by table, as the task reported them."
    )
    delta_versions: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="The Delta version the attempt committed, by table."
    )
    rows_quarantined: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="Rows sent to quarantine, by quality rule."
    )
    cpu_seconds: NonNegativeFloat = Field(
        description="User + system CPU time of the publishing process during the attempt "
        "(resource.getrusage; a Spark JVM is a separate process and not included)."
    )
    peak_memory_bytes: NonNegativeInt = Field(
        description="The process's peak resident memory at the end of the attempt (ru_maxrss): a "
        "high-water mark of the process, not of the attempt alone."
    )
    error_class: str | None = Field(
        default=None, description="Qualified class of the error a failed attempt raised."
    )
    error_message: str | None = Field(
        default=None, description="Why the attempt failed (with the cause), or why the task was skipped."
    )


class AuditRecord(PlatformRecord):
    """One access to or change of data: who did what to which resource, and how it ended."""

    occurred_at: datetime = Field(default_factory=_now)
    service: str = Field(min_length=1, description="The service that acted or served the request.")
    api_key_id: str | None = Field(
        default=None,
        description="Fingerprint of the API key presented (see api_key_id()), never the key; "
        "None when no key was presented.",
    )
    roles: list[str] = Field(default_factory=list, description="The roles of the key, sorted.")
    action: AuditAction
    resource_type: ResourceType
    resource: str = Field(min_length=1, description="The table's qualified name or the endpoint.")
    resource_version: NonNegativeInt | None = Field(
        default=None, description="The table's Delta version a write committed; None for other actions."
    )
    subject_key: str | None = Field(
        default=None, description="The person whose data was read or changed (their subject key)."
    )
    outcome: AuditOutcome = Field(
        description="succeeded, denied (401/403), invalid (other 4xx) or failed (5xx, an error)."
    )
    status_code: int | None = Field(default=None, description="The HTTP status, for requests.")
    correlation_id: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class PlatformTopic:
    """A platform topic: its Kafka spec and the contract of its records."""

    spec: TopicSpec
    contract: type[PlatformRecord]

    @property
    def name(self) -> str:
        return self.spec.name


PIPELINE_RUNS = PlatformTopic(
    TopicSpec(PIPELINE_RUNS_TOPIC, partitions=3, config={"retention.ms": str(30 * _DAY_MS)}),
    PipelineRunRecord,
)
AUDIT = PlatformTopic(
    TopicSpec(AUDIT_TOPIC, partitions=3, config={"retention.ms": str(400 * _DAY_MS)}),
    AuditRecord,
)
PLATFORM_TOPICS: Mapping[str, PlatformTopic] = {t.name: t for t in (PIPELINE_RUNS, AUDIT)}


def json_schema(topic: PlatformTopic) -> dict[str, Any]:
    """The JSON Schema of the records on the topic, derived from the contract: every field is
    present on the wire (defaults are filled in before a record is sent)."""
    schema = topic.contract.model_json_schema(mode="serialization")
    return {"$id": topic.name, **schema}


def api_key_id(api_key: str, *, secret: bytes = b"") -> str:
    """A short, stable fingerprint of an API key for audit records: HMAC-SHA256 of the key under
    ``secret`` (a fixed label when empty), first 16 hex digits. The key cannot be read back from
    it; with a secret, not even guessed keys can be checked against it."""
    digest = hmac.new(secret or b"lakehouse api key id", api_key.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]
