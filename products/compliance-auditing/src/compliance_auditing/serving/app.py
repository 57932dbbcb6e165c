"""The compliance-auditing API: erasure requests (create, status, certificate), access
requests (create, status with the export's manifest, a table's rows), accesses per day, unusual
access, audit search, chain verification, backups, the retention policies and their runs. Build
it with :func:`create_app`; ``uvicorn --factory
compliance_auditing.serving.app:app_from_environment`` serves it with the product configuration
and the lake root of the environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query
from fastapi.responses import FileResponse

from compliance_auditing import PRODUCT
from compliance_auditing.config import ComplianceConfig, load_compliance_config
from compliance_auditing.contracts import (
    AccessesDaily,
    AccessRequestEvent,
    AuditEntry,
    ErasureRequestEvent,
    KeyReadsDaily,
    RetentionRun,
)
from compliance_auditing.processing.verify import verify_day
from compliance_auditing.serving.metrics import ErasureCollector
from compliance_auditing.serving.models import (
    AccessRequestStatus,
    BackupSummary,
    CertificateResponse,
    ChainVerification,
    ErasureRequestStatus,
    RetentionPolicy,
    SubjectRequestCreate,
    retention_policies,
)
from compliance_auditing.storage.exports import export_dir, export_file, read_manifest
from compliance_auditing.storage.requests import (
    ACCESS,
    ClearIds,
    RequestState,
    read_certificate,
    record_step,
    request_states,
    save_clear_ids,
)
from compliance_auditing.storage.tables import (
    GOLD_ACCESSES_DAILY,
    GOLD_KEY_READS_DAILY,
    GOLD_RETENTION_RUNS,
    SILVER_AUDIT_TRAIL,
)
from lakehouse_core.platform_topics import new_record_id
from lakehouse_core.privacy import platform_subject_key, subject_key_of
from lakehouse_core.serving.api import create_table_api, served_table
from lakehouse_core.serving.arrow import between, to_models, where
from lakehouse_core.serving.auth import require_role
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.errors import error_responses
from lakehouse_core.serving.params import DateRangeQuery, Page, PaginationQuery
from lakehouse_core.settings import get_settings

PRIVACY_OFFICER = "privacy_officer"
AUDITOR = "auditor"

RequestId = Annotated[
    str,
    Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="The erasure request's id."),
]


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def create_app(
    config: ComplianceConfig,
    *,
    lake_root: str,
    cache: QueryCache | None = None,
    clock: Callable[[], datetime] = utc_now,
    subject_key: bytes | None = None,
) -> FastAPI:
    """The API over the tables under ``lake_root``; ``clock`` is the time requests are made and
    judged late at; ``subject_key`` the platform key (default: from the environment)."""
    cache = cache or QueryCache()
    app = create_table_api(
        service=PRODUCT,
        version=version(PRODUCT),
        description=config.description,
        served=(GOLD_ACCESSES_DAILY,),
        lake_root=lake_root,
        api_keys=config.api_keys,
        cache=cache,
        api_keys_variable="COMPLIANCE_API_KEYS",
    )
    key = subject_key or platform_subject_key()
    deadline = timedelta(hours=config.erasure.deadline_hours)
    app.include_router(erasure_router(lake_root, key, deadline, clock))
    app.include_router(access_router(lake_root, key, timedelta(hours=config.access.deadline_hours), clock))
    app.state.registry.register(ErasureCollector(lake_root, deadline, clock))
    app.include_router(audit_router(lake_root, cache))
    return app


def app_from_environment() -> FastAPI:
    return create_app(load_compliance_config(), lake_root=get_settings().lake_root)


def status_of(state: RequestState, deadline: timedelta, now: datetime) -> ErasureRequestStatus:
    due = state.requested_at + deadline
    finished = state.state == "completed"
    late = state.updated_at > due if finished else now > due
    return ErasureRequestStatus(
        request_id=state.request_id,
        subject_key=state.subject_key,
        state=state.state,  # type: ignore[arg-type]
        requested_at=state.requested_at,
        updated_at=state.updated_at,
        deadline=due,
        late=late,
        detail=state.detail,
    )


def erasure_router(
    lake_root: str, subject_key: bytes, deadline: timedelta, clock: Callable[[], datetime]
) -> APIRouter:
    router = APIRouter(prefix="/v1/erasure-requests", tags=["erasure"], responses=error_responses(401, 403))
    readers = [Depends(require_role(AUDITOR, PRIVACY_OFFICER))]

    def found(request_id: str) -> RequestState:
        state = request_states(lake_root, request_id).get(request_id)
        if state is None:
            raise HTTPException(
                404, f"no erasure request '{request_id}'; create one with POST /v1/erasure-requests"
            )
        return state

    @router.post(
        "",
        status_code=202,
        response_model=ErasureRequestStatus,
        dependencies=[Depends(require_role(PRIVACY_OFFICER))],
    )
    def create(body: SubjectRequestCreate) -> ErasureRequestStatus:
        """Record a request to erase a person; the erasure task executes it and issues the
        certificate. Only the subject key is stored with the request."""
        now = clock()
        request_id = new_record_id()
        key = subject_key_of(body.user_id, subject_key)
        if key is None:
            raise HTTPException(422, "user_id is empty")
        save_clear_ids(
            lake_root, request_id, ClearIds(body.user_id, tuple(body.anonymous_ids), tuple(body.device_ids))
        )
        record_step(
            lake_root,
            ErasureRequestEvent(
                request_id=request_id,
                state="pending",
                at=now,
                requested_at=now,
                subject_key=key,
                request_date=now.date(),
            ),
        )
        return status_of(RequestState(request_id, key, now, "pending", now, None), deadline, now)

    @router.get(
        "/{request_id}",
        response_model=ErasureRequestStatus,
        dependencies=readers,
        responses=error_responses(404),
    )
    def status(request_id: RequestId) -> ErasureRequestStatus:
        """The request's state (pending, executing, completed, failed) and whether it is late."""
        return status_of(found(request_id), deadline, clock())

    @router.get(
        "/{request_id}/certificate",
        response_model=CertificateResponse,
        dependencies=readers,
        responses=error_responses(404),
    )
    def certificate(request_id: RequestId) -> CertificateResponse:
        """The signed certificate of an executed request."""
        state = found(request_id)
        issued = read_certificate(lake_root, request_id)
        if issued is None:
            raise HTTPException(
                404, f"erasure request '{request_id}' is {state.state}: no certificate issued yet"
            )
        return CertificateResponse(
            request_id=issued.request_id,
            issued_at=issued.issued_at,
            found=issued.found,
            certificate=json.loads(issued.certificate),
            signed_text=issued.certificate,
            signature=issued.signature,
        )

    return router


TableName = Annotated[
    str,
    Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$", description="A table's catalog name."),
]


def access_router(
    lake_root: str, subject_key: bytes, deadline: timedelta, clock: Callable[[], datetime]
) -> APIRouter:
    """Access requests. The export holds the person's data in clear, so only a privacy officer
    reads it; an auditor sees that a request was made and answered."""
    router = APIRouter(prefix="/v1/access-requests", tags=["access"], responses=error_responses(401, 403))
    officers = [Depends(require_role(PRIVACY_OFFICER))]

    def found(request_id: str) -> RequestState:
        state = request_states(lake_root, request_id, ACCESS).get(request_id)
        if state is None:
            raise HTTPException(
                404, f"no access request '{request_id}'; create one with POST /v1/access-requests"
            )
        return state

    @router.post("", status_code=202, response_model=AccessRequestStatus, dependencies=officers)
    def create(body: SubjectRequestCreate) -> AccessRequestStatus:
        """Record a request for everything the lake holds about a person; the access task exports
        it from every catalogued table. Only the subject key is stored with the request."""
        now = clock()
        request_id = new_record_id()
        key = subject_key_of(body.user_id, subject_key)
        if key is None:
            raise HTTPException(422, "user_id is empty")
        ids = ClearIds(body.user_id, tuple(body.anonymous_ids), tuple(body.device_ids))
        save_clear_ids(lake_root, request_id, ids, ACCESS)
        record_step(
            lake_root,
            AccessRequestEvent(
                request_id=request_id,
                state="pending",
                at=now,
                requested_at=now,
                subject_key=key,
                request_date=now.date(),
            ),
            kind=ACCESS,
        )
        status = status_of(RequestState(request_id, key, now, "pending", now, None), deadline, now)
        return AccessRequestStatus(**status.model_dump())

    @router.get(
        "/{request_id}",
        response_model=AccessRequestStatus,
        dependencies=[Depends(require_role(AUDITOR, PRIVACY_OFFICER))],
        responses=error_responses(404),
    )
    def status(request_id: RequestId) -> AccessRequestStatus:
        """The request's state and, once completed, the export's manifest: every table searched
        with its columns described, and how many of the person's rows each holds."""
        state = found(request_id)
        manifest = read_manifest(lake_root, request_id) if state.state == "completed" else None
        return AccessRequestStatus(**status_of(state, deadline, clock()).model_dump(), manifest=manifest)

    @router.get(
        "/{request_id}/tables/{table}",
        dependencies=officers,
        response_class=FileResponse,
        responses={**error_responses(404), 200: {"content": {"application/x-ndjson": {}}}},
    )
    def table_rows(request_id: RequestId, table: TableName) -> FileResponse:
        """The person's rows of one table, as JSON lines (one object per row, every column)."""
        state = found(request_id)
        manifest = read_manifest(lake_root, request_id) if state.state == "completed" else None
        if manifest is None:
            raise HTTPException(404, f"access request '{request_id}' is {state.state}: nothing exported yet")
        entry = next((t for t in manifest["tables"] if t["table"] == table), None)
        if entry is None:
            raise HTTPException(
                404, f"table '{table}' was not searched: it has no subject columns or no such table"
            )
        if not entry["rows"]:
            raise HTTPException(404, f"table '{table}' holds no rows of this person")
        return FileResponse(
            export_dir(lake_root, request_id) / export_file(table), media_type="application/x-ndjson"
        )

    return router


def audit_router(lake_root: str, cache: QueryCache) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["audit"],
        dependencies=[Depends(require_role(AUDITOR, PRIVACY_OFFICER))],
        responses=error_responses(401, 403),
    )
    table = served_table(GOLD_ACCESSES_DAILY, lake_root, cache)
    retention_runs = served_table(GOLD_RETENTION_RUNS, lake_root, cache)
    trail = served_table(SILVER_AUDIT_TRAIL, lake_root, cache)
    key_reads = served_table(GOLD_KEY_READS_DAILY, lake_root, cache)

    @router.get("/accesses", response_model=Page[AccessesDaily], responses=error_responses(400, 503))  # type: ignore[valid-type]
    def accesses(dates: DateRangeQuery, page: PaginationQuery) -> object:
        """Audit records per day, resource, role, API key id and action, in the range (UTC days)."""
        rows = table.query(
            ("accesses", dates.start, dates.end),
            lambda reader: to_models(
                reader.read(filter=between("day", dates.start, dates.end)),
                AccessesDaily,
                [("day", "descending"), ("accesses", "descending")],
            ),
        )
        return Page.of(rows, page)

    @router.get(
        "/retention-runs",
        response_model=Page[RetentionRun],  # type: ignore[valid-type]
        responses=error_responses(400, 503),
    )
    def retention(
        dates: DateRangeQuery,
        page: PaginationQuery,
        table_name: Annotated[
            str | None, Query(max_length=200, description="Only this table (its catalog name).")
        ] = None,
    ) -> object:
        """What each retention run deleted from each catalogued table, run day in the range (UTC),
        newest first: the cutoff, the rows deleted and the Delta version of the delete."""
        rows = retention_runs.query(
            ("retention-runs", dates.start, dates.end),
            lambda reader: to_models(
                reader.read(filter=between("run_date", dates.start, dates.end)),
                RetentionRun,
                [("executed_at", "descending"), ("table_name", "ascending")],
            ),
        )
        return Page.of([r for r in rows if table_name in (None, r.table_name)], page)

    @router.get(
        "/audit",
        response_model=Page[AuditEntry],  # type: ignore[valid-type]
        responses=error_responses(400, 503),
    )
    def audit_search(
        dates: DateRangeQuery,
        page: PaginationQuery,
        *,
        resource: Annotated[str | None, Query(max_length=200, description="A table or endpoint.")] = None,
        api_key_id: Annotated[str | None, Query(max_length=128, description="An API key's id.")] = None,
        subject_key: Annotated[
            str | None, Query(pattern="^[0-9a-f]{64}$", description="The person whose data was touched.")
        ] = None,
        action: Annotated[str | None, Query(pattern="^(read|write|erase|retention|key_management)$")] = None,
    ) -> object:
        """Audit records of the days in the range (UTC), newest first, by resource, key,
        subject and action: who touched which data, and when."""
        equal = {"resource": resource, "api_key_id": api_key_id, "subject_key": subject_key, "action": action}
        rows = trail.query(
            ("audit", dates.start, dates.end, *equal.values()),
            lambda reader: to_models(
                reader.read(filter=where(between("day", dates.start, dates.end), equal)),
                AuditEntry,
                [("occurred_at", "descending"), ("record_id", "ascending")],
            ),
        )
        return Page.of(rows, page)

    @router.get("/audit/chain/{day}", response_model=ChainVerification)
    def chain(day: date) -> ChainVerification:
        """The day's audit chain recomputed from its stored links and root, as
        ``compliance-auditing verify --day`` does: intact, or the first link that does not hold."""
        found = verify_day(lake_root, day)
        return ChainVerification(
            day=found.day,
            intact=found.intact,
            links=found.links,
            root_hash=found.root_hash,
            broken=found.broken,
        )

    @router.get("/backups", response_model=list[BackupSummary])
    def backups() -> list[BackupSummary]:
        """The lake's backups, newest first: a restore from any of them is followed by the
        completed erasures applied again (docs/DESIGN.md, "Backups")."""
        from lakehouse_platform.backup.manifest import list_manifests

        return [
            BackupSummary(
                backup_id=m.backup_id,
                created_at=datetime.fromisoformat(m.created_at),
                tables=len(m.tables),
                bytes_total=sum(t.bytes_total for t in m.tables),
            )
            for m in list_manifests(FilePath(get_settings().backup_root))
        ]

    @router.get("/retention", response_model=list[RetentionPolicy], responses=error_responses(503))
    def retention_summary() -> list[RetentionPolicy]:
        """Every table's retention as its last run checked it: the policy (days, date column),
        the last run, the rows it deleted and the rows deleted by every run recorded."""
        return retention_runs.query(
            ("retention",),
            lambda reader: retention_policies(
                to_models(reader.read(), RetentionRun, [("executed_at", "ascending")])
            ),
        )

    @router.get(
        "/unusual-access",
        response_model=Page[KeyReadsDaily],  # type: ignore[valid-type]
        responses=error_responses(400, 503),
    )
    def unusual_access(
        dates: DateRangeQuery,
        page: PaginationQuery,
        api_key_id: Annotated[str | None, Query(max_length=128, description="Only this key's days.")] = None,
        include_usual: Annotated[
            bool, Query(description="Also the days a key's reads stayed under its threshold.")
        ] = False,
    ) -> object:
        """The days an API key read far more people than its own baseline (docs/DESIGN.md), in the
        range (UTC days), most subjects first."""
        rows = key_reads.query(
            ("unusual-access", dates.start, dates.end),
            lambda reader: to_models(
                reader.read(filter=between("day", dates.start, dates.end)),
                KeyReadsDaily,
                [("day", "descending"), ("subjects", "descending")],
            ),
        )
        chosen = [r for r in rows if (include_usual or r.unusual) and api_key_id in (None, r.api_key_id)]
        return Page.of(chosen, page)

    return router
