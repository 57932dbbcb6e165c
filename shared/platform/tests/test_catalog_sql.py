"""Catalogued tables queryable by name in Spark SQL, on a real small Delta table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import BaseModel

from lakehouse_core.contracts import spark_schema
from lakehouse_core.delta import append, ensure_table
from lakehouse_core.tables import Layer, TableSpec
from lakehouse_platform.catalog import build_catalog, register_tables

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.integration


class Daily(BaseModel):
    day: str
    visits: int


@dataclass(frozen=True)
class Config:
    owner: str = "team@example.com"
    topics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Declaration:
    name: str
    tables: tuple[TableSpec, ...]
    load_config: Callable[[], Any] = Config
    schema_record: Path | None = None


def spec(layer: Layer, name: str) -> TableSpec:
    return TableSpec(name=name, layer=layer, product="sql-shop", schema=spark_schema(Daily))


def test_built_tables_are_registered_by_name_and_the_others_skipped(
    spark: SparkSession, lake_root: str
) -> None:
    built, missing = spec(Layer.GOLD, "daily"), spec(Layer.SILVER, "visits")
    ensure_table(spark, built, lake_root=lake_root)
    append(
        spark.createDataFrame([("2026-01-01", 3), ("2026-01-02", 5)], built.schema),
        built,
        lake_root=lake_root,
    )
    catalog = build_catalog([Declaration("sql-shop", (built, missing))], lake_root=lake_root)

    registration = register_tables(spark, catalog)
    assert registration.registered == {"sql-shop.gold.daily": "sql_shop_gold.daily"}
    assert list(registration.skipped) == ["sql-shop.silver.visits"]
    assert "not built yet" in registration.skipped["sql-shop.silver.visits"]
    total = spark.sql("select sum(visits) as total from sql_shop_gold.daily").first()
    assert total is not None
    assert total["total"] == 8

    again = register_tables(spark, catalog)
    assert again.registered == registration.registered
    assert spark.sql("select count(*) as n from sql_shop_gold.daily").first() == (2,)
