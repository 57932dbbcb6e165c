import datetime as dt
import decimal
import enum
from typing import Literal

import pyarrow as pa
import pytest
from pydantic import BaseModel, Field

from lakehouse_core.contracts import spark_schema
from lakehouse_core.errors import LakehouseError
from lakehouse_core.serving.contracts import arrow_schema, derived_model

pytestmark = pytest.mark.unit


class Colour(enum.Enum):
    RED = "red"


class Inner(BaseModel):
    x: int


class Everything(BaseModel):
    text: str
    count: int
    ratio: float | None
    flag: bool
    blob: bytes
    at: dt.datetime
    day: dt.date
    amount: decimal.Decimal
    colour: Colour
    kind: Literal["a", "b"]
    tags: list[str]
    scores: dict[str, float | None]
    inner: Inner
    wire_name: str = Field(alias="wireName")


def test_arrow_schema_maps_every_supported_type() -> None:
    assert arrow_schema(Everything) == pa.schema(
        [
            pa.field("text", pa.string(), nullable=False),
            pa.field("count", pa.int64(), nullable=False),
            pa.field("ratio", pa.float64(), nullable=True),
            pa.field("flag", pa.bool_(), nullable=False),
            pa.field("blob", pa.binary(), nullable=False),
            pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("day", pa.date32(), nullable=False),
            pa.field("amount", pa.decimal128(38, 9), nullable=False),
            pa.field("colour", pa.string(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("tags", pa.list_(pa.field("element", pa.string(), nullable=False)), nullable=False),
            pa.field("scores", pa.map_(pa.string(), pa.float64()), nullable=False),
            pa.field("inner", pa.struct([pa.field("x", pa.int64(), nullable=False)]), nullable=False),
            pa.field("wireName", pa.string(), nullable=False),
        ]
    )


def test_arrow_and_spark_schemas_agree_on_names_and_nullability() -> None:
    spark = [(f.name, f.nullable) for f in spark_schema(Everything).fields]
    arrow = [(f.name, f.nullable) for f in arrow_schema(Everything)]
    assert arrow == spark


def test_unsupported_types_are_refused_with_the_field_name() -> None:
    class Bad(BaseModel):
        either: int | str

    with pytest.raises(LakehouseError, match=r"Bad\.either: only `X \| None` unions map to Arrow"):
        arrow_schema(Bad)


class Daily(BaseModel):
    """A daily row."""

    date: dt.date
    visitors: int = Field(description="Daily unique visitors.")
    rate: float | None = Field(description="A rate.")


def test_derived_model_renames_in_place_excludes_and_prepends() -> None:
    Weekly = derived_model(  # noqa: N806
        "Weekly",
        Daily,
        exclude=("date",),
        rename={"visitors": "visitor_days"},
        descriptions={"visitor_days": "Summed daily visitors."},
        leading={"week": (dt.date, "Monday.")},
    )
    fields = Weekly.model_fields
    assert list(fields) == ["week", "visitor_days", "rate"]
    assert (fields["visitor_days"].annotation, fields["visitor_days"].description) == (
        int,
        "Summed daily visitors.",
    )
    assert (fields["rate"].annotation, fields["rate"].description) == (float | None, "A rate.")
    assert Weekly.__doc__ == "A daily row."
    assert Weekly(week=dt.date(2024, 1, 1), visitor_days=3, rate=None).model_dump() == {
        "week": dt.date(2024, 1, 1),
        "visitor_days": 3,
        "rate": None,
    }
    assert Daily.model_fields["visitors"].description == "Daily unique visitors."


def test_derived_model_refuses_unknown_fields() -> None:
    with pytest.raises(LakehouseError, match=r"X: Daily has no field\(s\) \['nope'\]"):
        derived_model("X", Daily, exclude=("nope",))
    with pytest.raises(LakehouseError, match=r"descriptions for fields it does not have: \['date'\]"):
        derived_model("X", Daily, exclude=("date",), descriptions={"date": "gone"})
