"""Request and response bodies of the erasure API (the tables' rows derive from
:mod:`compliance_auditing.contracts`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from compliance_auditing.contracts import ErasureState, RetentionRun

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class SubjectRequestCreate(BaseModel):
    """A person, to erase or to export: their user id, and any anonymous or device ids known to
    be theirs."""

    model_config = ConfigDict(extra="forbid")

    user_id: Identifier = Field(description="The user id as the products receive it (userId).")
    anonymous_ids: list[Identifier] = Field(default_factory=list, max_length=100)
    device_ids: list[Identifier] = Field(default_factory=list, max_length=100)


class ErasureRequestStatus(BaseModel):
    request_id: str
    subject_key: str = Field(
        description="The person, as the lake knows them; the user id itself is not kept."
    )
    state: ErasureState
    requested_at: datetime
    updated_at: datetime = Field(description="When the request entered its state.")
    deadline: datetime = Field(description="requested_at + the configured deadline (default 72 h).")
    late: bool = Field(description="Not completed and past the deadline (or completed after it).")
    detail: str | None = None


class AccessRequestStatus(ErasureRequestStatus):
    manifest: dict[str, Any] | None = Field(
        default=None,
        description="Once completed: every table searched, its columns described, the rows exported.",
    )


class CertificateResponse(BaseModel):
    request_id: str
    issued_at: datetime
    found: int = Field(description="Occurrences found after erasure; 0 when proven.")
    certificate: dict[str, Any] = Field(
        description="The certificate (tables, locations, how each was searched)."
    )
    signed_text: str = Field(description="The exact signed bytes (UTF-8): the certificate as canonical JSON.")
    signature: str = Field(description="HMAC-SHA256 (hex) of signed_text under the signing key.")
    algorithm: str = "HMAC-SHA256"


class RetentionPolicy(BaseModel):
    """A table's retention and what enforcing it did."""

    table_name: str
    retention_days: int
    date_column: str
    last_run_id: str
    last_run_at: datetime
    last_cutoff: date = Field(description="Rows dated before this day were expired by the last run.")
    last_status: str = Field(description="expired, nothing_expired or absent.")
    rows_deleted_last_run: int
    rows_deleted_total: int = Field(description="Rows deleted by every retention run recorded.")


def retention_policies(runs: Iterable[RetentionRun]) -> list[RetentionPolicy]:
    """One policy per table, as of its newest run, ordered by table name."""
    latest: dict[str, RetentionRun] = {}
    totals: dict[str, int] = {}
    for run in runs:
        totals[run.table_name] = totals.get(run.table_name, 0) + run.rows_deleted
        current = latest.get(run.table_name)
        if current is None or run.executed_at > current.executed_at:
            latest[run.table_name] = run
    return [
        RetentionPolicy(
            table_name=name,
            retention_days=run.retention_days,
            date_column=run.date_column,
            last_run_id=run.run_id,
            last_run_at=run.executed_at,
            last_cutoff=run.cutoff,
            last_status=run.status,
            rows_deleted_last_run=run.rows_deleted,
            rows_deleted_total=totals[name],
        )
        for name, run in sorted(latest.items())
    ]


class ChainVerification(BaseModel):
    """One day's audit chain recomputed from the stored links and its root."""

    day: date
    intact: bool
    links: int = Field(description="Links stored for the day.")
    root_hash: str | None = Field(description="The recorded root's hash; null without a root.")
    broken: str | None = Field(description="The first link (or the root) that does not hold, and why.")


class BackupSummary(BaseModel):
    """One backup of the lake (``lakehouse backup create``)."""

    backup_id: str
    created_at: datetime
    tables: int = Field(description="Tables backed up.")
    bytes_total: int
