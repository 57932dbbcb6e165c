"""Turn a CustomResourceDefinition's OpenAPI v3 schema into a strict JSON Schema file.

Strict as Kubernetes' own `kubectl --validate=strict` is: an object with declared properties
refuses unknown ones (unless it is marked ``x-kubernetes-preserve-unknown-fields``), and
``nullable`` becomes a ``null`` type. Descriptions are dropped (validation does not read them).
Usage, from an operator release's CRD file:

    python crd_to_json_schema.py 040-Crd-kafka.yaml v1 > kafka.strimzi.io/kafka_v1.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def strict(node: Any) -> Any:
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items() if not (k == "description" and isinstance(v, str))}
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def convert(crd: dict[str, Any], version: str) -> dict[str, Any]:
    spec = crd["spec"]
    (served,) = [v for v in spec["versions"] if v["name"] == version]
    schema = strict(served["schema"]["openAPIV3Schema"])
    schema["properties"]["apiVersion"] = {"enum": [f"{spec['group']}/{version}"]}
    schema["properties"]["kind"] = {"enum": [spec["names"]["kind"]]}
    schema["properties"]["metadata"] = {"type": "object"}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata"})
    return {"$schema": "http://json-schema.org/draft-07/schema#", **schema}


if __name__ == "__main__":
    path, version = sys.argv[1:3]
    documents = yaml.safe_load_all(Path(path).read_text())
    (crd,) = [d for d in documents if d and d["kind"] == "CustomResourceDefinition"]
    json.dump(convert(crd, version), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
