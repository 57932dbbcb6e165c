"""The requests' store, JVM-free (delta-rs), shared by the API and the tasks that execute them:
erasure requests and access requests (:class:`RequestKind`), kept alike.

- ``silver.erasure_requests`` (and ``silver.access_requests``) is append-only: one row per
  step of a request (``pending``, ``executing``, ``completed``, ``failed``); a request's state
  is its newest step. Appends never conflict, so the API and the task write it concurrently
  without coordination, and the steps stay as evidence of when each happened.
- A request's clear ids (user id, anonymous and device ids) are needed only while it executes
  (raw payloads and Kafka keys hold them in clear), so they are not in the table: they wait in
  one file per request under ``<lake>/_compliance/erasure_pending/`` (``access_pending/``;
  owner-only permissions) and the file is deleted when the certificate (the export) is stored.
- ``gold.erasure_certificates``: one signed certificate per completed request.
- ``silver.erased_subjects``: each completed erasure's person in keyed form (appended).
- ``gold.retention_runs``: what each retention run deleted from each table (appended).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from compliance_auditing.contracts import (
    AccessRequestEvent,
    ErasedSubject,
    ErasureCertificate,
    ErasureRequestEvent,
    RequestStep,
    RetentionRun,
)
from compliance_auditing.storage.exports import write_private
from compliance_auditing.storage.tables import (
    GOLD_ERASURE_CERTIFICATES,
    GOLD_RETENTION_RUNS,
    SILVER_ACCESS_REQUESTS,
    SILVER_ERASED_SUBJECTS,
    SILVER_ERASURE_REQUESTS,
)
from lakehouse_core.delta_appender import append_models
from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.tables import TableSpec, join_location


@dataclass(frozen=True)
class RequestKind:
    """What a person asked for: where its steps and its waiting clear ids are kept."""

    name: str
    table: TableSpec
    model: type[RequestStep]


ERASURE = RequestKind("erasure", SILVER_ERASURE_REQUESTS, ErasureRequestEvent)
ACCESS = RequestKind("access", SILVER_ACCESS_REQUESTS, AccessRequestEvent)


@dataclass(frozen=True)
class ClearIds:
    """A request's identifiers as the sources send them: kept only until its certificate."""

    user_id: str
    anonymous_ids: tuple[str, ...] = ()
    device_ids: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.user_id, *self.anonymous_ids, *self.device_ids]))


def pending_dir(lake_root: str, kind: RequestKind = ERASURE) -> Path:
    return Path(join_location(lake_root, "_compliance", f"{kind.name}_pending"))


def save_clear_ids(lake_root: str, request_id: str, ids: ClearIds, kind: RequestKind = ERASURE) -> None:
    folder = pending_dir(lake_root, kind)
    folder.mkdir(parents=True, exist_ok=True)
    write_private(
        folder / f"{request_id}.json",
        json.dumps(
            {"user_id": ids.user_id, "anonymous_ids": ids.anonymous_ids, "device_ids": ids.device_ids}
        ),
    )


def load_clear_ids(lake_root: str, request_id: str, kind: RequestKind = ERASURE) -> ClearIds | None:
    path = pending_dir(lake_root, kind) / f"{request_id}.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return ClearIds(data["user_id"], tuple(data["anonymous_ids"]), tuple(data["device_ids"]))


def drop_clear_ids(lake_root: str, request_id: str, kind: RequestKind = ERASURE) -> None:
    (pending_dir(lake_root, kind) / f"{request_id}.json").unlink(missing_ok=True)


def record_step(lake_root: str, *steps: RequestStep, kind: RequestKind = ERASURE) -> None:
    """Append steps of requests to ``silver.erasure_requests`` (``kind``'s table)."""
    append_models(kind.table, steps, lake_root=lake_root)


def advance(
    lake_root: str,
    request: RequestState,
    state: str,
    at: datetime,
    detail: str | None = None,
    *,
    kind: RequestKind = ERASURE,
) -> None:
    """Record that ``request`` entered ``state`` at ``at``."""
    step = kind.model(
        request_id=request.request_id,
        state=state,
        at=at,
        requested_at=request.requested_at,
        subject_key=request.subject_key,
        detail=detail,
        request_date=request.requested_at.date(),
    )
    record_step(lake_root, step, kind=kind)


def store_certificate(lake_root: str, certificate: ErasureCertificate) -> None:
    append_models(GOLD_ERASURE_CERTIFICATES, [certificate], lake_root=lake_root)


def store_erased_subject(lake_root: str, erased: ErasedSubject) -> None:
    append_models(SILVER_ERASED_SUBJECTS, [erased], lake_root=lake_root)


def erased_subjects(lake_root: str) -> list[ErasedSubject]:
    """Every person whose erasure completed; empty before the first."""
    from lakehouse_core.delta_reader import read_arrow

    try:
        rows = read_arrow(SILVER_ERASED_SUBJECTS.location(lake_root)).to_pylist()
    except TableNotFoundError:
        return []
    return [ErasedSubject(**row) for row in rows]


def store_retention_runs(lake_root: str, runs: Sequence[RetentionRun]) -> None:
    if runs:
        append_models(GOLD_RETENTION_RUNS, runs, lake_root=lake_root)


@dataclass(frozen=True)
class RequestState:
    """A request as its steps tell it."""

    request_id: str
    subject_key: str
    requested_at: datetime
    state: str
    updated_at: datetime
    detail: str | None


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def request_states(
    lake_root: str, request_id: str | None = None, kind: RequestKind = ERASURE
) -> dict[str, RequestState]:
    """Every request's (or one's) newest step; empty when no request was ever made."""
    import pyarrow.compute as pc

    from lakehouse_core.delta_reader import read_arrow

    try:
        rows = read_arrow(
            kind.table.location(lake_root),
            filter=pc.field("request_id") == request_id if request_id else None,
        ).to_pylist()
    except TableNotFoundError:
        return {}
    order = {"pending": 0, "executing": 1, "failed": 2, "completed": 3}
    states: dict[str, RequestState] = {}
    for row in sorted(rows, key=lambda r: (_aware(r["at"]), order.get(r["state"], 0))):
        states[row["request_id"]] = RequestState(
            row["request_id"],
            row["subject_key"],
            _aware(row["requested_at"]),
            row["state"],
            _aware(row["at"]),
            row["detail"],
        )
    return states


def read_certificate(lake_root: str, request_id: str) -> ErasureCertificate | None:
    import pyarrow.compute as pc

    from lakehouse_core.delta_reader import read_arrow

    try:
        rows = read_arrow(
            GOLD_ERASURE_CERTIFICATES.location(lake_root), filter=pc.field("request_id") == request_id
        ).to_pylist()
    except TableNotFoundError:
        return None
    if not rows:
        return None
    newest = max(rows, key=lambda r: _aware(r["issued_at"]))
    return ErasureCertificate(**newest)
