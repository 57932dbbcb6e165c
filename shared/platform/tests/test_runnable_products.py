"""The platform builds a product's assets, checks and jobs from what the product declares
(:class:`~lakehouse_platform.catalog.RunnableProduct`), knowing nothing else of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest
from pydantic import BaseModel

from lakehouse_core.contracts import spark_schema
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import ConfiguredTopic, Layer, TableSpec
from lakehouse_platform.catalog import Catalog, ProductAssets, QuarantineRules, RunnableProduct
from lakehouse_platform.dagster_definitions import build_definitions
from lakehouse_platform.orchestrator import Pipeline, RunContext, Task
from lakehouse_testing.declarations import ToyDeclaration

pytestmark = pytest.mark.unit


class Row(BaseModel):
    id: str


def table(layer: Layer, name: str, *upstream: str | ConfiguredTopic) -> TableSpec:
    return TableSpec(
        name=name, layer=layer, product="shop", schema=spark_schema(Row), contract=Row, upstream=upstream
    )


BRONZE = table(Layer.BRONZE, "orders", ConfiguredTopic("events"))
QUARANTINE = table(Layer.QUARANTINE, "orders", "shop.bronze.orders")
SILVER = table(Layer.SILVER, "orders", "shop.bronze.orders")
GOLD = table(Layer.GOLD, "revenue", "shop.silver.orders")


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name.split("/"))


def nothing(_: RunContext) -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True)
class Shop(ToyDeclaration):
    """A product that is no event product: two tasks, one rule, a job of its own."""

    def product_assets(self, settings: LakehouseSettings, catalog: Catalog) -> ProductAssets:
        pipeline = Pipeline(
            self.name,
            [
                Task("ingest", nothing, writes=(BRONZE,)),
                Task("refine", nothing, depends_on=("ingest",), writes=(SILVER, QUARANTINE)),
            ],
        )

        @dg.op(name="shop__reindex")
        def reindex() -> None: ...

        @dg.job(name="shop_reindex")
        def job() -> None:
            reindex()

        rules = QuarantineRules(SILVER, QUARANTINE, {"has_id": "the order has no id"})
        return ProductAssets(pipeline, quality=(rules,), jobs=(job,))


SHOP = Shop("shop", (BRONZE, QUARANTINE, SILVER, GOLD))


def test_a_declaration_with_product_assets_is_runnable_and_a_bare_one_is_not() -> None:
    assert isinstance(SHOP, RunnableProduct)
    assert not isinstance(ToyDeclaration("bare", (BRONZE,)), RunnableProduct)


def test_the_declared_pipeline_rules_and_jobs_become_assets_checks_and_jobs(tmp_path: Any) -> None:
    defs = build_definitions([SHOP], settings=LakehouseSettings(lake_root=str(tmp_path)))
    graph = defs.resolve_asset_graph()
    refine = defs.resolve_assets_def(dg.AssetKey(["shop", "silver", "orders"]))
    assert refine.keys == {
        dg.AssetKey(["shop", "silver", "orders"]),
        dg.AssetKey(["shop", "quarantine", "orders"]),
    }
    assert graph.get(dg.AssetKey(["shop", "bronze", "orders"])).is_materializable
    assert not graph.get(dg.AssetKey(["shop", "gold", "revenue"])).is_materializable
    assert {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys} == {
        ("shop/silver/orders", "has_id")
    }
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"shop_pipeline", "shop_reindex"}
    assert [s.name for s in defs.schedules or ()] == ["shop_schedule"]
