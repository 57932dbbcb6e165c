"""A small lake for gateway tests: one or two rows in every silver and gold table of the catalog,
written with delta-rs from each table's contract (no Spark, no product imported). Every subject
column holds a value that starts with :data:`SUBJECT_MARK`, so a test can look for it in answers.
And :class:`Gateway`, what the tests know of the gateway served over it (``conftest.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args, get_origin

import pyarrow as pa
from deltalake import write_deltalake

from lakehouse_core.platform_topics import AuditRecord
from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_core.serving.contracts import arrow_schema
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import Layer
from lakehouse_platform.catalog import Catalog, CatalogEntry, ServedProduct
from lakehouse_platform.gateway.keys import KeyStore, Quota

DAY = date(2026, 3, 2)
AT = datetime(2026, 3, 2, 12, tzinfo=UTC)
SUBJECT_MARK = "SUBJ"

UNLIMITED = Quota()

#: Values a product's routes look for (a configured segment or funnel).
NAMED = {"segment": "champions", "funnel": "signup"}
#: Columns left empty (a membership still held, an incident still open).
NULL = {"valid_to", "closed_at", "exit_reason"}


def _choices(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    return next((c for a in get_args(annotation) if (c := _choices(a))), ())


_BY_TYPE: list[tuple[Any, Any]] = [
    (pa.types.is_date, DAY),
    (pa.types.is_timestamp, AT),
    (pa.types.is_boolean, False),
    (pa.types.is_floating, 0.5),
]


def _value(entry: CatalogEntry, field: pa.Field, row: int, choices: tuple[Any, ...]) -> Any:
    kind = field.type
    if field.name in entry.spec.subject_columns:
        return f"{SUBJECT_MARK}-{field.name}-{row}"
    if choices or field.name in NULL:
        return choices[0] if choices else None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return NAMED.get(field.name, f"{field.name}-{row}")
    if pa.types.is_integer(kind):
        return row + 1
    if pa.types.is_list(kind) or pa.types.is_map(kind):
        return []
    return next((value for test, value in _BY_TYPE if test(kind)), None)


def write_lake(catalog: Catalog) -> list[str]:
    """Write every silver and gold table with a contract; returns the subject values written."""
    subjects: list[str] = []
    for entry in catalog.entries.values():
        model = entry.spec.contract
        if model is None or entry.layer not in (Layer.SILVER, Layer.GOLD):
            continue
        schema = arrow_schema(model)
        choices = {
            (info.alias or name): _choices(info.annotation) for name, info in model.model_fields.items()
        }
        rows = [{f.name: _value(entry, f, row, choices.get(f.name, ())) for f in schema} for row in range(2)]
        subjects += [v for r in rows for v in r.values() if isinstance(v, str) and v.startswith(SUBJECT_MARK)]
        write_deltalake(
            entry.location,
            pa.Table.from_pylist(rows, schema=schema),
            partition_by=list(entry.spec.partition_by) or None,
        )
    return subjects


@dataclass
class Gateway:
    url: str
    store: KeyStore
    catalog: Catalog
    products: list[ServedProduct]
    settings: LakehouseSettings
    audit: list[AuditRecord]
    refusals: list[AuditRecord]
    subjects: list[str]

    def key(self, *roles: str, quota: Quota = UNLIMITED) -> dict[str, str]:
        issued = self.store.create(owner="test", roles=roles, valid_for=timedelta(days=1), quota=quota)
        return {API_KEY_HEADER: issued.secret}
