"""The catalog built from small declarations: entries, owner, topics from config, lineage, errors."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field
from pyspark.sql import types as T

from lakehouse_core.contracts import spark_schema
from lakehouse_core.errors import ConfigError
from lakehouse_core.tables import ConfiguredTopic, Freshness, Layer, Retention, SubjectKind, TableSpec
from lakehouse_platform.catalog import CatalogError, LineageNode, build_catalog, sql_name
from lakehouse_testing.declarations import ToyConfig as Config
from lakehouse_testing.declarations import ToyDeclaration as Declaration

pytestmark = pytest.mark.unit


class Visit(BaseModel):
    """A visit."""

    visitor_id: str = Field(description="Keyed HMAC of the user id.")
    visit_date: str
    pages: int | None


def table(product: str, layer: Layer, name: str, *upstream: str | ConfiguredTopic, **extra: Any) -> TableSpec:
    return TableSpec(
        name=name,
        layer=layer,
        product=product,
        schema=spark_schema(Visit),
        contract=Visit,
        upstream=upstream,
        **extra,
    )


SHOP_BRONZE = table("shop", Layer.BRONZE, "events", ConfiguredTopic("events"))
SHOP_SILVER = table(
    "shop",
    Layer.SILVER,
    "visits",
    "shop.bronze.events",
    subject_columns={"visitor_id": SubjectKind.SUBJECT_KEY},
    retention=Retention(30, "visit_date"),
    freshness=Freshness(warn_minutes=10, breach_minutes=30),
    partition_by=("visit_date",),
)
SHOP_GOLD = table("shop", Layer.GOLD, "daily", "shop.silver.visits")
SHOP = Declaration("shop", (SHOP_BRONZE, SHOP_SILVER, SHOP_GOLD))
#: Another product reading shop's silver table by its catalog name.
SEGMENTS = Declaration("segments", (table("segments", Layer.GOLD, "members", "shop.silver.visits"),))


def test_entries_carry_the_declaration_the_owner_and_the_columns() -> None:
    catalog = build_catalog([SHOP], lake_root="/lake")
    entry = catalog.get("shop.silver.visits")
    assert entry.owner == "team@example.com (Team)"
    assert entry.location == "/lake/silver/shop/visits"
    assert entry.contract.endswith("test_catalog.Visit")
    assert [(c.name, c.type, c.nullable, c.subject) for c in entry.columns] == [
        ("visitor_id", "string", False, SubjectKind.SUBJECT_KEY),
        ("visit_date", "string", False, None),
        ("pages", "bigint", True, None),
    ]
    assert entry.columns[0].description == "Keyed HMAC of the user id."
    shown = entry.to_json()
    assert shown["subject_columns"] == {"visitor_id": "subject_key"}
    assert shown["retention"] == {"days": 30, "date_column": "visit_date"}
    assert shown["freshness"] == {"warn_minutes": 10, "breach_minutes": 30}
    assert shown["sql_name"] == "shop_silver.visits"
    assert [e.qualified_name for e in catalog.select(layer=Layer.GOLD)] == ["shop.gold.daily"]


def test_a_configured_topic_is_resolved_from_the_products_loaded_config() -> None:
    catalog = build_catalog([SHOP], lake_root="/lake")
    assert catalog.get("shop.bronze.events").upstream == ("kafka:shop.events.v1",)


def test_lineage_runs_down_to_the_kafka_topic_and_across_products() -> None:
    catalog = build_catalog([SHOP, SEGMENTS], lake_root="/lake")
    assert catalog.lineage("segments.gold.members") == LineageNode(
        "segments.gold.members",
        (
            LineageNode(
                "shop.silver.visits",
                (LineageNode("shop.bronze.events", (LineageNode("kafka:shop.events.v1"),)),),
            ),
        ),
    )
    downstream = catalog.lineage("kafka:shop.events.v1", upstream=False)
    (bronze,) = downstream.children
    (silver,) = bronze.children
    assert [c.name for c in silver.children] == ["shop.gold.daily", "segments.gold.members"]


def test_a_chain_reached_twice_is_cut_the_second_time() -> None:
    joined = Declaration(
        "shop",
        (*SHOP.tables, table("shop", Layer.GOLD, "joined", "shop.silver.visits", "shop.gold.daily")),
    )
    root = build_catalog([joined], lake_root="/lake").lineage("shop.gold.joined")
    silver, daily = root.children
    assert silver.children
    assert not silver.repeated
    assert daily.children == (LineageNode("shop.silver.visits", repeated=True),)


def test_an_upstream_that_is_not_catalogued_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"segments.gold.members: upstream 'shop.silver.visits'"):
        build_catalog([SEGMENTS], lake_root="/lake")


def test_a_topic_missing_from_the_config_is_named() -> None:
    with pytest.raises(CatalogError, match=r"topics.events.*it has: no topics"):
        build_catalog(
            [Declaration("shop", (SHOP_BRONZE,), load_config=lambda: Config(topics={}))], lake_root="/"
        )


def test_duplicates_and_foreign_tables_are_refused() -> None:
    with pytest.raises(CatalogError, match="declared twice"):
        build_catalog([SHOP, Declaration("shop", (SHOP_GOLD,))], lake_root="/lake")
    with pytest.raises(CatalogError, match="a table of another product"):
        build_catalog([Declaration("segments", (SHOP_GOLD,))], lake_root="/lake")


def test_an_unknown_name_suggests_the_tables_with_the_same_short_name() -> None:
    catalog = build_catalog([SHOP], lake_root="/lake")
    with pytest.raises(CatalogError, match=r"did you mean shop.gold.daily\?"):
        catalog.get("shop.silver.daily")


def test_a_declaration_naming_a_column_the_table_lacks_is_refused() -> None:
    with pytest.raises(ConfigError, match="visitor_key named in the declaration but not a column"):
        table("shop", Layer.SILVER, "visits", subject_columns={"visitor_key": SubjectKind.SUBJECT_KEY})
    with pytest.raises(ConfigError, match="warn_minutes <= breach_minutes"):
        table("shop", Layer.SILVER, "visits", freshness=Freshness(warn_minutes=60, breach_minutes=5))


def test_sql_names_are_one_database_per_product_and_layer() -> None:
    spec = TableSpec(
        name="daily_traffic", layer=Layer.GOLD, product="web-user-analytics", schema=T.StructType()
    )
    assert sql_name(spec) == "web_user_analytics_gold.daily_traffic"
