"""Change events applied to silver on real Delta tables: order by log position, deletes, a
change sent again after a Connect restart, and a column added in the source."""

import json
from datetime import UTC, datetime

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.cdc import CdcTable, apply_change_batch
from lakehouse_core.ingestion.bronze import BRONZE_SCHEMA
from lakehouse_core.tables import join_location

pytestmark = pytest.mark.integration

TOPIC = "cdc.shop.public.customers"


def _event(op: str, lsn: int, before: dict | None, after: dict | None) -> str:
    columns = sorted({*(before or {}), *(after or {})})
    row = {
        "type": "struct",
        "optional": True,
        "fields": [{"type": "int64" if c == "id" else "string", "field": c} for c in columns],
    }
    schema = {"type": "struct", "fields": [{**row, "field": "before"}, {**row, "field": "after"}]}
    payload = {"before": before, "after": after, "op": op, "source": {"lsn": lsn, "ts_ms": 1_700_000_000_000}}
    return json.dumps({"schema": schema, "payload": payload})


def _bronze(spark: SparkSession, events: list[tuple[int, str]]) -> DataFrame:
    now = datetime.now(tz=UTC)
    rows = [("{}", value, TOPIC, 0, offset, now, now, now.date(), None) for offset, value in events]
    return spark.createDataFrame(rows, BRONZE_SCHEMA)


def test_replayed_and_late_changes_never_revive_a_deleted_row(spark: SparkSession, lake_root: str) -> None:
    table = CdcTable(
        topic=TOPIC,
        keys=("id",),
        bronze_location="unused",
        history_location=join_location(lake_root, "silver", "shop", "customers_history"),
        current_location=join_location(lake_root, "silver", "shop", "customers"),
        checkpoint="unused",
    )
    ada = {"id": 1, "plan": "free"}
    bob = {"id": 2, "plan": "pro"}
    first = [
        (0, _event("r", 100, None, ada)),
        (1, _event("r", 100, None, bob)),
        (2, _event("u", 110, ada, {**ada, "plan": "team"})),
        (3, _event("d", 120, bob, None)),
    ]
    assert apply_change_batch(spark, table, _bronze(spark, first)) == 4

    replayed = [
        (4, first[1][1]),
        (5, first[2][1]),
        (6, _event("u", 130, ada, {**ada, "plan": "pro", "referral": "x"})),
    ]
    assert apply_change_batch(spark, table, _bronze(spark, replayed)) == 3

    current = spark.read.format("delta").load(table.current_location)
    assert [tuple(r) for r in current.select("id", "plan", "referral").collect()] == [(1, "pro", "x")]
    history = spark.read.format("delta").load(table.history_location)
    assert sorted((r.id, r._op, r._lsn) for r in history.collect()) == [
        (1, "r", 100),
        (1, "u", 110),
        (1, "u", 130),
        (2, "d", 120),
        (2, "r", 100),
    ]
