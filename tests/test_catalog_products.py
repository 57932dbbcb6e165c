"""The installed products, as the platform finds them: through their ``lakehouse.products`` entry
points, every table their ``storage.tables`` module declares, catalogued with its metadata."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

import pytest

from lakehouse_core.tables import Layer, TableSpec
from lakehouse_platform.catalog import ENTRY_POINT_GROUP, build_catalog, discover_products

pytestmark = pytest.mark.unit

PACKAGES = {
    "web-user-analytics": "web_user_analytics",
    "mobile-user-analytics": "mobile_user_analytics",
    "operational-metrics": "operational_metrics",
}


def declared_tables(package: str) -> set[str]:
    module = importlib.import_module(f"{package}.storage.tables")
    return {v.qualified_name for v in vars(module).values() if isinstance(v, TableSpec)}


def test_the_entry_points_yield_every_product_with_all_its_tables() -> None:
    assert {p.name for p in entry_points(group=ENTRY_POINT_GROUP)} >= set(PACKAGES)
    products = {p.name: p for p in discover_products()}
    for name, package in PACKAGES.items():
        assert {t.qualified_name for t in products[name].tables} == declared_tables(package)


def test_every_table_declares_its_catalog_metadata() -> None:
    catalog = build_catalog(discover_products(), lake_root="/lake")
    for entry in catalog.select():
        if entry.product not in PACKAGES:
            continue
        spec = entry.spec
        assert spec.retention, entry.qualified_name
        assert spec.freshness, entry.qualified_name
        assert entry.upstream, entry.qualified_name
        assert spec.contract is not None, entry.qualified_name
        if spec.layer in (Layer.BRONZE, Layer.QUARANTINE):
            assert spec.subject_columns, f"{entry.qualified_name}: raw payloads hold personal data"
    assert catalog.get("web-user-analytics.bronze.events").upstream == ("kafka:web.events.v1",)
    assert catalog.get("mobile-user-analytics.bronze.events").upstream == ("kafka:mobile.events.v1",)
