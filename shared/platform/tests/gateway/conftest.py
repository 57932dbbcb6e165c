"""The gateway the integration tests share: every installed product over a small lake of real
Delta tables, served by a real uvicorn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lakehouse_core.platform_topics import AuditRecord
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import ServedProduct, build_catalog, discover_products
from lakehouse_platform.gateway.admin import KeyAdmin
from lakehouse_platform.gateway.app import create_gateway
from lakehouse_platform.gateway.config import load_gateway_config
from lakehouse_platform.gateway.keys import KeyStore
from lakehouse_testing.lake import write_lake
from lakehouse_testing.plugin import serve_in_thread

from .lake import Gateway


@pytest.fixture(scope="package")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("gateway")
    settings = LakehouseSettings(lake_root=str(base / "lake"), state_dir=base / "state")
    products = [p for p in discover_products() if isinstance(p, ServedProduct)]
    catalog = build_catalog(products, lake_root=settings.lake_root)
    subjects = write_lake(catalog)
    config = load_gateway_config()
    store = KeyStore(config.store_path(settings))
    audit: list[AuditRecord] = []
    refusals: list[AuditRecord] = []
    app = create_gateway(
        products,
        settings=settings,
        catalog=catalog,
        store=store,
        admin=KeyAdmin(store, config, audit.append),
        config=config,
        read_audit=refusals.append,
    )
    with serve_in_thread(app) as url:
        yield Gateway(url, store, catalog, products, settings, audit, refusals, subjects)
