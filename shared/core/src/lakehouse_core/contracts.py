"""Derive Spark schemas from pydantic contracts, so each schema is written exactly once.

A product's ``contracts.py`` declares events and tables as pydantic models; the Spark
``StructType`` (here), the JSON Schema and the API models (pydantic itself) all follow from it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import types
import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pyspark.sql import types as T

from lakehouse_core.errors import LakehouseError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_SCALARS: dict[type, T.DataType] = {
    str: T.StringType(),
    int: T.LongType(),
    float: T.DoubleType(),
    bool: T.BooleanType(),
    bytes: T.BinaryType(),
    dt.datetime: T.TimestampType(),
    dt.date: T.DateType(),
}


def spark_schema(model: type[BaseModel]) -> T.StructType:
    """The Spark schema of a pydantic model; ``X | None`` fields are nullable, others not.

    Field aliases are used as column names, so a contract can keep a wire name (``messageId``)
    while its Python attribute follows PEP 8.
    """
    hints = typing.get_type_hints(model, include_extras=True)
    fields = []
    for name, info in model.model_fields.items():
        data_type, nullable = _spark_type(hints[name], where=f"{model.__name__}.{name}")
        fields.append(T.StructField(info.alias or name, data_type, nullable=nullable))
    return T.StructType(fields)


def _spark_type(annotation: Any, *, where: str) -> tuple[T.DataType, bool]:  # noqa: PLR0911
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _spark_type(args[0], where=where)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) != 1:
            raise LakehouseError(f"{where}: only `X | None` unions map to Spark, got {annotation}")
        return _spark_type(members[0], where=where)[0], True
    if origin is Literal:
        return _spark_type(type(args[0]), where=where)[0], False
    if origin in (list, tuple, set, frozenset):
        element, element_nullable = _spark_type(args[0], where=where)
        return T.ArrayType(element, containsNull=element_nullable), False
    if origin is dict:
        key, _ = _spark_type(args[0], where=where)
        value, value_nullable = _spark_type(args[1], where=where)
        return T.MapType(key, value, valueContainsNull=value_nullable), False
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return spark_schema(annotation), False
        if issubclass(annotation, enum.Enum):
            return _spark_type(type(next(iter(annotation)).value), where=where)[0], False
        if issubclass(annotation, decimal.Decimal):
            return T.DecimalType(38, 9), False
        for python_type, spark_type in _SCALARS.items():
            if issubclass(annotation, python_type) and not (
                python_type is int and issubclass(annotation, bool)
            ):
                return spark_type, False
    raise LakehouseError(f"{where}: no Spark type for {annotation!r}")


def conform(df: DataFrame, model: type[BaseModel]) -> DataFrame:
    """Exactly the model's columns, in its order and with its Spark types.

    A ``list[X]`` field has non-null elements; Spark refuses to cast an array that may hold
    nulls to one that may not, so such arrays drop their nulls first.
    """
    from pyspark.sql import functions as F

    columns = []
    for field in spark_schema(model).fields:
        column = F.col(field.name)
        if isinstance(field.dataType, T.ArrayType) and not field.dataType.containsNull:
            column = F.array_compact(column)
        columns.append(column.cast(field.dataType).alias(field.name))
    return df.select(*columns)
