"""What a serving API derives from a product's pydantic contracts: the Arrow schema of a table
(to write or check Delta tables without Spark) and response models for aggregated views.

The Arrow types mirror :func:`lakehouse_core.contracts.spark_schema` (and so what Spark writes
to Delta): ``int`` is int64, ``float`` float64, ``datetime`` a UTC microsecond timestamp,
``date`` date32; ``X | None`` fields are nullable, others not; aliases name the columns.
"""

from __future__ import annotations

import copy
import datetime as dt
import decimal
import enum
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel, create_model
from pydantic.fields import FieldInfo

from lakehouse_core.errors import LakehouseError

_SCALARS: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    bytes: pa.binary(),
    dt.datetime: pa.timestamp("us", tz="UTC"),
    dt.date: pa.date32(),
}


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of a contract, column for column what Spark writes for it."""
    return pa.schema(_arrow_fields(model))


def _arrow_fields(model: type[BaseModel]) -> list[pa.Field]:
    hints = typing.get_type_hints(model, include_extras=True)
    fields = []
    for name, info in model.model_fields.items():
        data_type, nullable = _arrow_type(hints[name], where=f"{model.__name__}.{name}")
        fields.append(pa.field(info.alias or name, data_type, nullable=nullable))
    return fields


def _arrow_type(annotation: Any, *, where: str) -> tuple[pa.DataType, bool]:  # noqa: PLR0911
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _arrow_type(args[0], where=where)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) != 1:
            raise LakehouseError(f"{where}: only `X | None` unions map to Arrow, got {annotation}")
        return _arrow_type(members[0], where=where)[0], True
    if origin is Literal:
        return _arrow_type(type(args[0]), where=where)[0], False
    if origin in (list, tuple, set, frozenset):
        element, element_nullable = _arrow_type(args[0], where=where)
        return pa.list_(pa.field("element", element, nullable=element_nullable)), False
    if origin is dict:
        key, _ = _arrow_type(args[0], where=where)
        value, value_nullable = _arrow_type(args[1], where=where)
        return pa.map_(key, pa.field("value", value, nullable=value_nullable)), False
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return pa.struct(_arrow_fields(annotation)), False
        if issubclass(annotation, enum.Enum):
            return _arrow_type(type(next(iter(annotation)).value), where=where)[0], False
        if issubclass(annotation, decimal.Decimal):
            return pa.decimal128(38, 9), False
        for python_type, arrow_type in _SCALARS.items():
            if issubclass(annotation, python_type) and not (
                python_type is int and issubclass(annotation, bool)
            ):
                return arrow_type, False
    raise LakehouseError(f"{where}: no Arrow type for {annotation!r}")


def derived_model(
    name: str,
    contract: type[BaseModel],
    *,
    exclude: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    leading: Mapping[str, tuple[Any, str]] | None = None,
    doc: str | None = None,
) -> type[BaseModel]:
    """A response model made from ``contract``'s fields, so an aggregated view never restates them.

    ``exclude`` drops fields, ``rename`` renames them in place (keeping type and position),
    ``descriptions`` replaces field descriptions (by the new name), and ``leading`` adds fields
    ``name → (type, description)`` in front.
    """
    rename, descriptions, leading = dict(rename or {}), dict(descriptions or {}), dict(leading or {})
    excluded = set(exclude)
    unknown = (excluded | set(rename)) - set(contract.model_fields)
    if unknown:
        raise LakehouseError(f"{name}: {contract.__name__} has no field(s) {sorted(unknown)}")
    fields: dict[str, Any] = {
        field: (annotation, FieldInfo(description=description))
        for field, (annotation, description) in leading.items()
    }
    for field, info in contract.model_fields.items():
        if field in excluded:
            continue
        new_name = rename.get(field, field)
        new_info = copy.copy(info)
        if new_name != field:
            new_info.alias = new_info.validation_alias = new_info.serialization_alias = None
        if new_name in descriptions:
            new_info.description = descriptions[new_name]
        fields[new_name] = (info.annotation, new_info)
    missing = set(descriptions) - set(fields)
    if missing:
        raise LakehouseError(f"{name}: descriptions for fields it does not have: {sorted(missing)}")
    return create_model(name, __doc__=doc or contract.__doc__, **fields)
