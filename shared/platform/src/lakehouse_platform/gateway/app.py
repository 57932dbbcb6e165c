"""The gateway app: every product's app mounted under ``/<product>``, the catalog, ``/admin``,
one merged OpenAPI document, and the policy every request under those prefixes passes.

The policy, in order: a presented key that is unknown, expired or revoked is refused (401) before
any product sees the request; a key over its quota gets 429 with ``Retry-After`` (each refusal a
``read`` audit record, ``denied``; the products audit the requests they answer); the answer gets
the freshness headers of the tables it read; and a caller without ``user_reader`` gets JSON with
the catalog's subject columns taken out. The products' own guards (``require_role``) read the
gateway's key store, installed on each mounted app in place of the product's own keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from importlib.metadata import version as package_version
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from lakehouse_core.health import HealthCheck
from lakehouse_core.platform_topics import AuditRecord, api_key_id
from lakehouse_core.service import create_service_app
from lakehouse_core.serving.audit import AuditPublish
from lakehouse_core.serving.auth import API_KEY_HEADER, install_api_keys
from lakehouse_core.serving.tables import recording_reads
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import Catalog, ServedProduct
from lakehouse_platform.gateway.admin import KeyAdmin
from lakehouse_platform.gateway.admin_api import admin_router
from lakehouse_platform.gateway.catalog_api import catalog_router
from lakehouse_platform.gateway.config import SERVICE, SUBJECT_READER, GatewayConfig
from lakehouse_platform.gateway.freshness import CommitTimes, freshness_headers
from lakehouse_platform.gateway.keys import KeyRecord, KeyStore, KeyStoreError, utc_now
from lakehouse_platform.gateway.mask import masked, subject_fields
from lakehouse_platform.gateway.openapi import merged_openapi
from lakehouse_platform.gateway.quotas import QuotaCounter

Clock = Callable[[], datetime]

log = logging.getLogger(__name__)


def _refused(status: int, detail: str, headers: dict[str, str]) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def key_store_check(store: KeyStore) -> HealthCheck:
    def probe() -> str:
        return f"{len(store.records())} keys in {store.path}"

    return HealthCheck("api-keys", probe)


def create_gateway(
    products: Sequence[ServedProduct],
    *,
    settings: LakehouseSettings,
    catalog: Catalog,
    store: KeyStore,
    admin: KeyAdmin,
    config: GatewayConfig,
    read_audit: AuditPublish | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """The gateway over ``products`` (each mounted under ``/<its name>``); ``read_audit`` takes the
    records of the requests the gateway refuses (none are made without it)."""
    app = create_service_app(
        service=SERVICE,
        version=package_version("lakehouse-platform"),
        checks=[key_store_check(store)],
        description="Every product's API under /<product>, the catalog under /catalog, keys under /admin.",
    )
    install_api_keys(app, store)
    app.include_router(catalog_router(catalog))
    secret = settings.api_key_fingerprint_secret.get_secret_value().encode()
    app.include_router(admin_router(admin, fingerprint_secret=secret, clock=clock))
    mounted: dict[str, FastAPI] = {}
    for product in products:
        served = product.serving_app(settings)
        install_api_keys(served, store)
        app.mount(f"/{product.name}", served, name=product.name)
        mounted[product.name] = served
    fields = subject_fields(catalog)
    prefixes = tuple(f"/{name}/" for name in mounted)
    guarded = ("/catalog", "/admin", *prefixes)
    quotas = QuotaCounter()
    commit_times = CommitTimes()

    gateway_openapi = app.openapi
    document: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not document:
            products_docs = {name: served.openapi() for name, served in mounted.items()}
            document.update(merged_openapi(gateway_openapi(), products_docs, masked=fields))
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    def refused(request: Request, status: int, detail: str, headers: dict[str, str]) -> JSONResponse:
        if read_audit is not None:
            presented = request.headers.get(API_KEY_HEADER, "")
            read_audit(
                AuditRecord(
                    service=SERVICE,
                    api_key_id=api_key_id(presented, secret=secret),
                    action="read",
                    resource_type="endpoint",
                    resource=f"{request.method} {request.url.path}",
                    outcome="denied",
                    status_code=status,
                    detail=detail,
                )
            )
        return _refused(status, detail, headers)

    def admitted(request: Request) -> KeyRecord | JSONResponse | None:
        presented = request.headers.get(API_KEY_HEADER)
        if not presented:
            return None
        found = store.lookup(presented)
        if found.record is None or found.state != "active":
            return refused(request, 401, f"API key {found.state}", {"WWW-Authenticate": API_KEY_HEADER})
        wait = quotas.admit(found.record.key_id, found.record.quota, clock())
        if wait is not None:
            detail = f"quota of key {found.record.key_id} used up; retry in {wait} s"
            return refused(request, 429, detail, {"Retry-After": str(wait)})
        return found.record

    @app.middleware("http")
    async def policy(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if not request.url.path.startswith(guarded):
            return await call_next(request)
        try:
            key = admitted(request)
        except KeyStoreError as exc:
            log.exception("key store unreadable")
            return _refused(503, f"the gateway cannot read its keys: {exc}", {"Retry-After": "60"})
        if isinstance(key, Response):
            return key
        with recording_reads() as reads:
            try:
                response = await call_next(request)
            except Exception:
                log.exception("unhandled error behind the gateway", extra={"path": request.url.path})
                return _refused(500, "internal error; the gateway's log has the details", {})
        response.headers.update(freshness_headers(reads, catalog, commit_times, clock()))
        if (key is not None and SUBJECT_READER in key.roles) or not request.url.path.startswith(prefixes):
            return response
        return await _masked_response(response, fields)

    return app


async def _masked_response(response: Response, fields: frozenset[str]) -> Response:
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
