from datetime import date, datetime
from enum import StrEnum
from typing import Literal

import pytest
from pydantic import BaseModel, Field
from pyspark.sql import types as T

from lakehouse_core.contracts import spark_schema
from lakehouse_core.errors import LakehouseError

pytestmark = pytest.mark.unit


class Device(StrEnum):
    MOBILE = "mobile"
    DESKTOP = "desktop"


class Page(BaseModel):
    url: str
    title: str | None = None


class Event(BaseModel):
    message_id: str = Field(alias="messageId")
    count: int
    ratio: float | None
    is_bot: bool
    sent_at: datetime
    day: date
    device: Device
    kind: Literal["track", "page"]
    page: Page | None
    tags: list[str]
    properties: dict[str, str | None]


def test_spark_schema_maps_every_kind_of_field() -> None:
    assert spark_schema(Event) == T.StructType(
        [
            T.StructField("messageId", T.StringType(), False),
            T.StructField("count", T.LongType(), False),
            T.StructField("ratio", T.DoubleType(), True),
            T.StructField("is_bot", T.BooleanType(), False),
            T.StructField("sent_at", T.TimestampType(), False),
            T.StructField("day", T.DateType(), False),
            T.StructField("device", T.StringType(), False),
            T.StructField("kind", T.StringType(), False),
            T.StructField(
                "page",
                T.StructType(
                    [
                        T.StructField("url", T.StringType(), False),
                        T.StructField("title", T.StringType(), True),
                    ]
                ),
                True,
            ),
            T.StructField("tags", T.ArrayType(T.StringType(), False), False),
            T.StructField("properties", T.MapType(T.StringType(), T.StringType(), True), False),
        ]
    )


def test_unmappable_type_names_the_field() -> None:
    class Odd(BaseModel):
        choice: int | str

    with pytest.raises(LakehouseError, match=r"Odd\.choice"):
        spark_schema(Odd)
