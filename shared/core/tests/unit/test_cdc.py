"""Debezium change-event schemas → the captured table's columns; the connector's configuration."""

import pytest

from lakehouse_core.cdc import PostgresCdcSource, RowField, logical_types, row_fields, union_fields

pytestmark = pytest.mark.unit


def _schema(*columns: dict[str, object]) -> dict[str, object]:
    row = {"type": "struct", "fields": list(columns), "optional": True}
    return {
        "type": "struct",
        "fields": [{**row, "field": "before"}, {**row, "field": "after"}, {"type": "string", "field": "op"}],
    }


ID = {"type": "int64", "optional": False, "field": "id"}
SIGNUP = {"type": "int32", "name": "io.debezium.time.Date", "field": "signup_date"}
UPDATED = {"type": "string", "name": "io.debezium.time.ZonedTimestamp", "field": "updated_at"}
AMOUNT = {"type": "double", "field": "amount"}


def test_physical_and_semantic_types_map_to_spark_types() -> None:
    assert row_fields(_schema(ID, SIGNUP, UPDATED, AMOUNT)) == (
        RowField("id", "bigint", "bigint"),
        RowField("signup_date", "int", "date"),
        RowField("updated_at", "string", "timestamp"),
        RowField("amount", "double", "double"),
    )
    assert logical_types([_schema(ID, SIGNUP, UPDATED)]) == {
        "signup_date": "date",
        "updated_at": "timestamp",
    }


def test_a_column_added_in_the_source_comes_last_in_the_union() -> None:
    before = row_fields(_schema(ID, AMOUNT))
    after = row_fields(_schema(ID, AMOUNT, {"type": "string", "field": "referral"}))
    assert [f.name for f in union_fields([after, before])] == ["id", "amount", "referral"]
    assert [f.name for f in union_fields([before, after])] == ["id", "amount", "referral"]


def test_a_schema_that_is_no_change_event_is_refused() -> None:
    with pytest.raises(ValueError, match="no 'before'/'after'"):
        row_fields({"type": "struct", "fields": [{"type": "string", "field": "op"}]})


def test_the_connector_snapshots_first_then_streams_through_pgoutput() -> None:
    source = PostgresCdcSource(
        name="Shop-DB",
        host="db",
        port=5432,
        user="cdc",
        database="shop",
        tables=("public.customers", "public.orders"),
        topic_prefix="cdc.shop",
    )
    config = source.connector_config()
    assert config["plugin.name"] == "pgoutput"
    assert config["snapshot.mode"] == "initial"
    assert config["table.include.list"] == "public.customers,public.orders"
    assert config["slot.name"] == "shop_db"
    assert source.topic("public.orders") == "cdc.shop.public.orders"
