"""The tables of compliance-auditing, each defined once as a pydantic model: the Spark schema,
the Arrow schema the API reads and writes with, the API's response models and the catalog's
column descriptions all derive from these. The input contract is the platform's
:class:`~lakehouse_core.platform_topics.AuditRecord`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

ErasureState = Literal["pending", "executing", "completed", "failed"]


class AuditEntry(BaseModel):
    """Silver: one audit record of ``platform.audit.v1``, typed, once per ``record_id``, as a
    link of its day's hash chain (docs/DESIGN.md)."""

    record_id: str = Field(description="The record's id, kept when it is re-sent.")
    occurred_at: datetime
    day: date = Field(
        description="UTC date of occurred_at: the chain the record is a link of; the partition column."
    )
    service: str = Field(description="The service that acted or served the request.")
    api_key_id: str | None = Field(
        default=None, description="Fingerprint of the API key presented, never the key."
    )
    roles: list[str] = Field(description="The roles of the key, sorted.")
    action: str = Field(description="read, write, erase, retention or key_management.")
    resource_type: str = Field(description="table, endpoint, topic or api_key.")
    resource: str = Field(description="The table's qualified name or the endpoint.")
    resource_version: int | None = Field(default=None, description="The Delta version a write committed.")
    subject_key: str | None = Field(default=None, description="The person whose data was read or changed.")
    outcome: str = Field(description="succeeded, denied, invalid or failed.")
    status_code: int | None = None
    correlation_id: str | None = None
    detail: str | None = None
    seq: int = Field(description="The link's position in its day's chain, from 1.")
    prev_hash: str = Field(description="record_hash of the previous link; 64 zeros for the first.")
    record_hash: str = Field(
        description="SHA-256 (hex) of prev_hash followed by the record's canonical JSON."
    )
    source_partition: int = Field(description="Kafka partition of the record, as bronze stored it.")
    source_offset: int = Field(description="Kafka offset of the record, as bronze stored it.")


class ChainRoot(BaseModel):
    """Silver: the root of one day's audit chain: how many links and the last link's hash."""

    day: date
    count: int = Field(description="Links in the day's chain.")
    root_hash: str = Field(description="record_hash of the day's last link.")
    updated_at: datetime = Field(description="When the chain last grew.")


class AccessesDaily(BaseModel):
    """Gold: audit records per UTC day, resource, role, API key id and action (a record of a key
    with several roles counts once under each role; a key without roles under role null)."""

    day: date
    resource: str = Field(description="The table's qualified name or the endpoint.")
    role: str | None = Field(default=None, description="A role of the key; null when the key had none.")
    api_key_id: str | None = Field(default=None, description="null when no key was presented.")
    action: str
    accesses: int = Field(description="Audit records.")
    denied: int = Field(description="Records whose outcome was denied (401/403).")
    subjects: int = Field(description="Distinct subject keys the records named.")


class KeyReadsDaily(BaseModel):
    """Gold: how many distinct people one API key read on one UTC day, against its own baseline
    (the median of its daily count over the preceding days it read anyone); ``unusual`` when the
    day's count passes the threshold (docs/DESIGN.md, "Unusual access")."""

    day: date = Field(description="The UTC day; the partition column.")
    api_key_id: str = Field(description="Fingerprint of the API key, never the key.")
    subjects: int = Field(description="Distinct subject keys the key's successful reads named that day.")
    reads: int = Field(description="Successful read records of the key that named a subject.")
    baseline_subjects: float | None = Field(
        default=None, description="Median of subjects over the baseline window; null without history."
    )
    baseline_days: int = Field(description="Days with reads in the baseline window.")
    threshold: float = Field(description="max(min_subjects, factor * baseline_subjects).")
    unusual: bool = Field(description="subjects > threshold.")


class RequestStep(BaseModel):
    """One step of a person's request, appended (never updated): ``pending`` when made, then
    ``executing``, then ``completed`` or ``failed``. A request's state is its newest step. Holds
    the subject key, never the clear user id."""

    request_id: str
    state: str = Field(description="pending, executing, completed or failed.")
    at: datetime = Field(description="When the request entered the state.")
    requested_at: datetime = Field(description="When the request was made.")
    subject_key: str = Field(description="The person the request is about: subject key of the user id.")
    detail: str | None = Field(default=None, description="Why a request failed; what an execution found.")
    request_date: date = Field(description="UTC date of requested_at; the partition column.")


class ErasureRequestEvent(RequestStep):
    """Silver: one step of an erasure request, appended (never updated): ``pending`` when made,
    then ``executing``, then ``completed`` or ``failed``. A request's state is its newest step.
    Holds the subject key, never the clear user id."""


class AccessRequestEvent(RequestStep):
    """Silver: one step of an access request (an export of everything the lake holds about a
    person), appended like an erasure request's steps. Holds the subject key, never the clear
    user id."""


class ErasedSubject(BaseModel):
    """Silver: a person whose erasure completed, in keyed form only, kept so that the erasure can
    be applied again to tables restored from a backup taken before it (their clear ids are
    dropped with the request, so they are kept as subject keys of the ids)."""

    request_id: str
    subject_key: str
    linked_ids: list[str] = Field(description="The product-keyed ids the identity links tied to the person.")
    clear_id_keys: list[str] = Field(
        description="Subject keys (HMAC-SHA256 under the platform key) of the request's clear ids."
    )
    completed_at: datetime
    completed_date: date = Field(description="UTC date of completed_at; the partition column.")


class ErasureCertificate(BaseModel):
    """Gold: the signed proof that a request's subject is gone from every table checked."""

    request_id: str
    issued_at: datetime
    subject_key: str
    tables_checked: int
    found: int = Field(
        description="Occurrences of the subject's key or ids found after erasure (0 when proven)."
    )
    certificate: str = Field(description="The certificate as canonical JSON, the signed bytes.")
    signature: str = Field(description="HMAC-SHA256 (hex) of certificate under the signing key.")
    issue_date: date = Field(description="UTC date of issued_at; the partition column.")


class RetentionRun(BaseModel):
    """Gold: what one retention run did to one catalogued table that declares a retention: the
    rows older than the retention (by the table's date column) deleted, in one Delta commit."""

    run_id: str = Field(description="The retention run; one row per table it checked.")
    executed_at: datetime
    run_date: date = Field(description="UTC date of executed_at; the partition column.")
    table_name: str = Field(description="The table's qualified name in the catalog.")
    date_column: str = Field(description="The column the retention is counted on.")
    retention_days: int
    cutoff: date = Field(description="Rows dated before this day were expired.")
    status: str = Field(
        description="expired (rows deleted), nothing_expired (none older than the cutoff) or absent "
        "(no table at the location yet)."
    )
    rows_deleted: int
    table_version: int | None = Field(
        default=None, description="The Delta version the delete committed (null when nothing was deleted)."
    )
