"""The committed DATA_MODELS.md and API_CONTRACTS.md are what the catalog and the OpenAPI
documents (the gateway's own routes, the products' APIs, the event products' collectors) give
now, and they hold every table and every endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import build_catalog, discover_products
from lakehouse_platform.docs_generation import (
    API_CONTRACTS,
    COMMAND,
    DATA_MODELS,
    DOCUMENTED_LAKE_ROOT,
    GATEWAY_SECTION,
    HTTP_METHODS,
    collector_documents,
    collector_section,
    gateway_document,
    generated_documents,
    openapi_documents,
)

pytestmark = pytest.mark.unit

DOCUMENTATION = Path(__file__).resolve().parents[2] / "documentation"


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return generated_documents()


@pytest.mark.parametrize("name", [DATA_MODELS, API_CONTRACTS])
def test_the_committed_document_is_current(name: str, generated: dict[str, str]) -> None:
    committed = DOCUMENTATION / name
    assert committed.exists(), f"documentation/{name} is missing: run `{COMMAND}`"
    assert committed.read_text() == generated[name], (
        f"documentation/{name} is not what the code gives now: run `{COMMAND}` and commit it"
    )


def test_data_models_hold_every_catalogued_table_with_its_columns(generated: dict[str, str]) -> None:
    text = generated[DATA_MODELS]
    catalog = build_catalog(discover_products(), lake_root="data_lake")

    assert len(catalog.entries) > 20
    for entry in catalog.entries.values():
        section = text.split(f"### {entry.qualified_name}\n", 1)[1].split("\n### ", 1)[0]
        assert f"`data_lake/{entry.layer.value}/{entry.product}/{entry.spec.name}`" in section
        assert {c.name for c in entry.columns} == {
            line.split("`")[1] for line in section.splitlines() if line.startswith("| `")
        }, entry.qualified_name


def test_api_contracts_hold_every_endpoint_of_every_product(generated: dict[str, str]) -> None:
    text = generated[API_CONTRACTS]
    documents = openapi_documents(LakehouseSettings(lake_root="data_lake"))

    assert set(documents) == {p.name for p in discover_products()}
    for product, document in documents.items():
        assert_every_operation_in(section_of(text, product), document)


def section_of(text: str, title: str) -> str:
    assert f"\n## {title}\n" in text, f"no section ## {title}"
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def assert_every_operation_in(section: str, document: Mapping[str, Any]) -> None:
    assert document["paths"]
    for path, item in document["paths"].items():
        for method in set(item) & set(HTTP_METHODS):
            assert f"| {method.upper()} | `{path}` |" in section, (method, path)


def test_api_contracts_hold_every_endpoint_of_every_collector(generated: dict[str, str]) -> None:
    text = generated[API_CONTRACTS]
    documents = collector_documents(LakehouseSettings(lake_root=DOCUMENTED_LAKE_ROOT))

    assert set(documents) == {"web-user-analytics", "mobile-user-analytics"}
    for product, document in documents.items():
        section = section_of(text, collector_section(product))
        assert "| POST | `/v1/batch` |" in section, product
        assert "| POST | `/v1/track` |" in section, product
        assert "#### SegmentBatch" in section, product
        assert_every_operation_in(section, document)


def test_api_contracts_hold_the_gateways_own_routes_and_no_products(generated: dict[str, str]) -> None:
    text = generated[API_CONTRACTS]
    settings = LakehouseSettings(lake_root=DOCUMENTED_LAKE_ROOT)
    document = gateway_document(settings, build_catalog(discover_products(), lake_root=DOCUMENTED_LAKE_ROOT))
    section = section_of(text, GATEWAY_SECTION)

    for route in ("| GET | `/catalog/tables` |", "| POST | `/admin/keys` |", "| GET | `/ready` |"):
        assert route in section, route
    assert_every_operation_in(section, document)
    products = {p.name for p in discover_products()}
    assert not [path for path in document["paths"] if path.split("/")[1] in products]
