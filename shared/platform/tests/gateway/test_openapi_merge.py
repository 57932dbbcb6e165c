"""Unit tests of the merged OpenAPI document: prefixes, operation ids, and schemas of the same
name that differ between products."""

from __future__ import annotations

from typing import Any

import pytest

from lakehouse_platform.gateway.openapi import merged_openapi

pytestmark = pytest.mark.unit


def _doc(item_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "paths": {
            "/v1/items": {
                "get": {
                    "operationId": "items",
                    "tags": ["items"],
                    "responses": {
                        "200": {
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Page": {"properties": {"items": {"items": {"$ref": "#/components/schemas/Item"}}}},
                "Item": item_schema,
                "Error": {"properties": {"detail": {"type": "string"}}},
            }
        },
    }


def test_products_land_under_their_prefix_and_differing_schemas_are_kept_apart() -> None:
    a = _doc(
        {
            "properties": {"person_id": {"type": "string"}, "n": {"type": "integer"}},
            "required": ["person_id", "n"],
        }
    )
    b = _doc({"properties": {"name": {"type": "string"}}})
    merged = merged_openapi(
        {"openapi": "3.1.0", "paths": {"/health": {}}}, {"a": a, "b": b}, masked=["person_id"]
    )
    assert set(merged["paths"]) == {"/health", "/a/v1/items", "/b/v1/items"}
    a_get, b_get = merged["paths"]["/a/v1/items"]["get"], merged["paths"]["/b/v1/items"]["get"]
    assert (a_get["operationId"], b_get["operationId"]) == ("a__items", "b__items")
    assert a_get["tags"] == ["a: items"]
    assert {"200", "401", "429"} <= set(a_get["responses"])
    assert "Retry-After" in a_get["responses"]["429"]["headers"]
    schemas = merged["components"]["schemas"]
    assert "Error" in schemas
    assert {"a__Item", "b__Item", "a__Page", "b__Page"} <= set(schemas)
    assert "Item" not in schemas
    assert schemas["a__Page"]["properties"]["items"]["items"]["$ref"] == "#/components/schemas/a__Item"
    assert schemas["a__Item"]["required"] == ["n"]
    ref = a_get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/a__Page"
