"""The gateway app: every product's app mounted under ``/<product>``, the catalog, ``/admin``,
one merged OpenAPI document, and the policy every request under those prefixes passes
(:mod:`lakehouse_platform.gateway.policy`). The products' own guards (``require_role``) read the
gateway's key store, installed on each mounted app in place of the product's own keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version as package_version
from typing import Any

from fastapi import FastAPI

from lakehouse_core.health import HealthCheck
from lakehouse_core.service import create_service_app
from lakehouse_core.serving.api import keys_installed_by_host
from lakehouse_core.serving.audit import AuditPublish
from lakehouse_core.serving.auth import install_api_keys
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import Catalog, ServedProduct
from lakehouse_platform.gateway.admin import KeyAdmin
from lakehouse_platform.gateway.admin_api import admin_router
from lakehouse_platform.gateway.catalog_api import catalog_router
from lakehouse_platform.gateway.config import SERVICE, GatewayConfig
from lakehouse_platform.gateway.keys import KeyStore, utc_now
from lakehouse_platform.gateway.openapi import merged_openapi
from lakehouse_platform.gateway.policy import Clock, Policy


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
        with keys_installed_by_host():
            served = product.serving_app(settings)
        install_api_keys(served, store)
        app.mount(f"/{product.name}", served, name=product.name)
        mounted[product.name] = served
    policy = Policy(
        store=store,
        catalog=catalog,
        products=list(mounted),
        fingerprint_secret=secret,
        read_audit=read_audit,
        clock=clock,
    )
    app.middleware("http")(policy)
    gateway_openapi = app.openapi
    document: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not document:
            products_docs = {name: served.openapi() for name, served in mounted.items()}
            document.update(merged_openapi(gateway_openapi(), products_docs, masked=policy.fields))
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    return app
