"""A small lake of real Delta tables from the catalog's contracts, written with delta-rs (no
Spark, no product imported): one or two rows in every silver and gold table. Every subject
column holds a value that starts with :data:`SUBJECT_MARK`, so a test can look for it in answers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

import pyarrow as pa
from deltalake import write_deltalake

from lakehouse_core.serving.contracts import arrow_schema
from lakehouse_core.tables import Layer

if TYPE_CHECKING:
    from lakehouse_platform.catalog import Catalog, CatalogEntry

DAY = date(2026, 3, 2)
AT = datetime(2026, 3, 2, 12, tzinfo=UTC)
SUBJECT_MARK = "SUBJ"

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


def contract_rows(entry: CatalogEntry, rows: Iterable[int]) -> pa.Table:
    """Rows numbered ``rows`` of ``entry``'s contract, each column filled by its type."""
    model = entry.spec.contract
    if model is None:
        raise ValueError(f"{entry.qualified_name} has no contract to write rows of")
    schema = arrow_schema(model)
    choices = {(info.alias or name): _choices(info.annotation) for name, info in model.model_fields.items()}
    return pa.Table.from_pylist(
        [{f.name: _value(entry, f, row, choices.get(f.name, ())) for f in schema} for row in rows],
        schema=schema,
    )


def write_rows(entry: CatalogEntry, rows: Iterable[int]) -> pa.Table:
    """Append :func:`contract_rows` to ``entry``'s table (created when absent); returns them."""
    table = contract_rows(entry, rows)
    write_deltalake(entry.location, table, mode="append", partition_by=list(entry.spec.partition_by) or None)
    return table


def write_lake(catalog: Catalog, *, layers: Iterable[Layer] = (Layer.SILVER, Layer.GOLD)) -> list[str]:
    """Write two rows in every table of ``layers`` with a contract; returns the subject values written."""
    subjects: list[str] = []
    wanted = set(layers)
    for entry in catalog.entries.values():
        if entry.spec.contract is None or entry.layer not in wanted:
            continue
        written = write_rows(entry, range(2))
        subjects += [
            v
            for r in written.to_pylist()
            for v in r.values()
            if isinstance(v, str) and v.startswith(SUBJECT_MARK)
        ]
    return subjects
