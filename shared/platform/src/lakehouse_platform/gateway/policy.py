"""The policy every request under ``/<product>``, ``/catalog`` and ``/admin`` passes, in order:

- a presented key that is unknown, expired or revoked is refused (401) before any product sees
  the request; a key over its quota gets 429 with ``Retry-After``; each refusal is a ``read``
  audit record, ``denied`` (the products audit the requests they answer);
- the answer gets the freshness headers of the tables it read;
- a caller without ``user_reader`` gets a product's JSON with the catalog's identifying subject
  columns taken out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from lakehouse_core.errors import LakehouseError
from lakehouse_core.platform_topics import AuditRecord, api_key_id
from lakehouse_core.serving.audit import AuditPublish
from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_core.serving.tables import recording_reads
from lakehouse_platform.catalog import Catalog
from lakehouse_platform.gateway.config import SERVICE, SUBJECT_READER
from lakehouse_platform.gateway.freshness import CommitTimes, freshness_headers
from lakehouse_platform.gateway.keys import KeyRecord, KeyStore, KeyStoreError
from lakehouse_platform.gateway.mask import masked, subject_fields
from lakehouse_platform.gateway.quotas import QuotaCounter

Clock = Callable[[], datetime]
CallNext = Callable[[Request], Awaitable[Response]]

log = logging.getLogger(__name__)


def refusal(status: int, detail: str, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class Policy:
    """An HTTP middleware (``app.middleware("http")(policy)``) for the products mounted under
    ``products`` (their names)."""

    def __init__(
        self,
        *,
        store: KeyStore,
        catalog: Catalog,
        products: Sequence[str],
        fingerprint_secret: bytes,
        read_audit: AuditPublish | None,
        clock: Clock,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.fields = subject_fields(catalog)
        self.prefixes = tuple(f"/{name}/" for name in products)
        self.guarded = ("/catalog", "/admin", *self.prefixes)
        self.secret = fingerprint_secret
        self.read_audit = read_audit
        self.clock = clock
        self.quotas = QuotaCounter()
        self.commit_times = CommitTimes()

    def _refused(self, request: Request, status: int, detail: str, headers: dict[str, str]) -> JSONResponse:
        if self.read_audit is not None:
            record = AuditRecord(
                service=SERVICE,
                api_key_id=api_key_id(request.headers.get(API_KEY_HEADER, ""), secret=self.secret),
                action="read",
                resource_type="endpoint",
                resource=f"{request.method} {request.url.path}",
                outcome="denied",
                status_code=status,
                detail=detail,
            )
            try:
                self.read_audit(record)
            except LakehouseError:
                log.exception("audit record not recorded", extra={"path": request.url.path})
        return refusal(status, detail, headers)

    def _admitted(self, request: Request) -> KeyRecord | JSONResponse | None:
        presented = request.headers.get(API_KEY_HEADER)
        if not presented:
            return None
        found = self.store.lookup(presented)
        if found.record is None or found.state != "active":
            headers = {"WWW-Authenticate": API_KEY_HEADER}
            return self._refused(request, 401, f"API key {found.state}", headers)
        wait = self.quotas.admit(found.record.key_id, found.record.quota, self.clock())
        if wait is not None:
            detail = f"quota of key {found.record.key_id} used up; retry in {wait} s"
            return self._refused(request, 429, detail, {"Retry-After": str(wait)})
        return found.record

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        path = request.url.path
        if not path.startswith(self.guarded):
            return await call_next(request)
        try:
            key = self._admitted(request)
        except KeyStoreError as exc:
            log.exception("key store unreadable")
            return refusal(503, f"the gateway cannot read its keys: {exc}", {"Retry-After": "60"})
        if isinstance(key, Response):
            return key
        with recording_reads() as reads:
            try:
                response = await call_next(request)
            except Exception:
                log.exception("unhandled error behind the gateway", extra={"path": path})
                return refusal(500, "internal error; the gateway's log has the details", {})
        response.headers.update(freshness_headers(reads, self.catalog, self.commit_times, self.clock()))
        if (key is not None and SUBJECT_READER in key.roles) or not path.startswith(self.prefixes):
            return response
        return await masked_response(response, self.fields)


async def masked_response(response: Response, fields: frozenset[str]) -> Response:
    """``response`` with ``fields`` taken out of its JSON body (other bodies as they are)."""
    if not response.headers.get("content-type", "").startswith("application/json"):
        return response
    body = b"".join([chunk async for chunk in response.body_iterator])  # type: ignore[attr-defined]
    try:
        content = masked(json.loads(body), fields) if body else None
    except ValueError:
        content = None
    out = Response(
        body if content is None else json.dumps(content, separators=(",", ":")).encode(),
        status_code=response.status_code,
        media_type="application/json",
    )
    for name, value in response.headers.items():
        if name not in ("content-length", "content-type"):
            out.headers.append(name, value)
    return out
