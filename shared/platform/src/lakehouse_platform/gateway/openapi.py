"""One OpenAPI document for the gateway: its own routes and every mounted product's under the
product's prefix.

Operation ids and tags get the product's name in front, and every operation lists what the
gateway itself may answer (401 for a key not in force, 429 over quota). A component schema keeps its name when
every product that has one by that name defines it alike (and everything it refers to is kept
alike too); otherwise each product's copy is named ``<product>__<name>``. Fields the column mask
may remove (:mod:`lakehouse_platform.gateway.mask`) are made optional.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

SCHEMA_REF = "#/components/schemas/"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

#: What the gateway answers before a product sees the request.
GATEWAY_RESPONSES: dict[str, Any] = {
    "401": {"description": "The API key is unknown, expired or revoked."},
    "503": {"description": "The gateway cannot read its key store (or the product's data is not built yet)."},
    "429": {
        "description": "The key's quota (per minute or per UTC day) is used up.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
}


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            found.add(ref.removeprefix(SCHEMA_REF))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _renamed(node: Any, names: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {k: _renamed(v, names) for k, v in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            out["$ref"] = SCHEMA_REF + names.get(ref.removeprefix(SCHEMA_REF), ref.removeprefix(SCHEMA_REF))
        return out
    if isinstance(node, list):
        return [_renamed(v, names) for v in node]
    return node


def _shared_names(documents: Mapping[str, Mapping[str, Any]]) -> set[str]:
    definitions: dict[str, set[str]] = {}
    refs: dict[str, set[str]] = {}
    for doc in documents.values():
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            definitions.setdefault(name, set()).add(json.dumps(schema, sort_keys=True))
            refs.setdefault(name, set()).update(_refs(schema))
    shared = {name for name, seen in definitions.items() if len(seen) == 1}
    while True:
        kept = {name for name in shared if refs[name] <= shared}
        if kept == shared:
            return shared
        shared = kept


def _optional(schemas: dict[str, Any], fields: frozenset[str]) -> None:
    for schema in schemas.values():
        required = schema.get("required")
        if isinstance(required, list) and fields & set(required):
            schema["required"] = [r for r in required if r not in fields]
            if not schema["required"]:
                del schema["required"]


def _gateway_responses(paths: dict[str, Any]) -> None:
    """Every operation but the gateway's own operations routes may be refused by the gateway."""
    for item in paths.values():
        for method in METHODS:
            operation = item.get(method)
            if operation is None or "operations" in operation.get("tags", []):
                continue
            responses = operation.setdefault("responses", {})
            for status, response in GATEWAY_RESPONSES.items():
                responses.setdefault(status, copy.deepcopy(response))


def merged_openapi(
    gateway: Mapping[str, Any], products: Mapping[str, Mapping[str, Any]], *, masked: Iterable[str]
) -> dict[str, Any]:
    """``gateway``'s document with each of ``products`` (product name → its document) under
    ``/<product>``; ``masked`` names the fields the column mask may remove."""
    merged = copy.deepcopy(dict(gateway))
    paths = merged.setdefault("paths", {})
    components = merged.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    shared = _shared_names(products) | {
        name
        for name in schemas
        if all(name not in d.get("components", {}).get("schemas", {}) for d in products.values())
    }
    tags = {t["name"]: t for t in merged.get("tags", [])}
    for product, doc in products.items():
        names = {
            name: name if name in shared and schemas.get(name, schema) == schema else f"{product}__{name}"
            for name, schema in doc.get("components", {}).get("schemas", {}).items()
        }
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            schemas[names[name]] = _renamed(schema, names)
        for scheme, spec in doc.get("components", {}).get("securitySchemes", {}).items():
            components.setdefault("securitySchemes", {}).setdefault(scheme, spec)
        for path, item in doc.get("paths", {}).items():
            moved = _renamed(item, names)
            for method in METHODS:
                operation = moved.get(method)
                if operation is None:
                    continue
                if "operationId" in operation:
                    operation["operationId"] = f"{product}__{operation['operationId']}"
                operation["tags"] = [f"{product}: {t}" for t in operation.get("tags", [])] or [product]
                for tag in operation["tags"]:
                    tags.setdefault(tag, {"name": tag})
            paths[f"/{product}{path}"] = moved
    _gateway_responses(paths)
    _optional(schemas, frozenset(masked))
    if tags:
        merged["tags"] = list(tags.values())
    return merged
