"""Helpers for tests of a serving API: gold rows written with delta-rs (no Spark), and requests
that must succeed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel

from lakehouse_core.serving.contracts import arrow_schema
from lakehouse_core.tables import TableSpec


def write_rows(
    lake_root: str, spec: TableSpec, model: type[BaseModel], *rows: tuple[Any, ...], **kw: Any
) -> None:
    """Writes ``rows`` (values in ``model``'s field order) as one Delta commit to ``spec``'s table,
    partitioned as ``spec`` says; ``kw`` goes to ``write_deltalake`` (e.g. ``mode="append"``)."""
    import pyarrow as pa
    from deltalake import write_deltalake

    records = [dict(zip(model.model_fields, row, strict=True)) for row in rows]
    table = pa.Table.from_pylist(records, schema=arrow_schema(model))
    write_deltalake(spec.location(lake_root), table, partition_by=list(spec.partition_by) or None, **kw)


def get_ok(client: TestClient, path: str, headers: Mapping[str, str], **params: Any) -> Any:
    """The JSON body of ``GET path?params``, asserting a 200 (the body is the failure message)."""
    response = client.get(path, params=params, headers=dict(headers))
    assert response.status_code == 200, response.text
    return response.json()
