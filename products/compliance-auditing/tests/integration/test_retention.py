"""Retention on a small lake written through Spark and Delta: every catalogued table that
declares a retention loses exactly its rows dated before the cutoff (a date column and a
timestamp column), in one Delta commit; newer rows are untouched; a second run finds nothing;
the run is stored in ``gold.retention_runs``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import BaseModel
from pyspark.sql import SparkSession

from compliance_auditing.processing.retention import enforce_retention
from compliance_auditing.storage.requests import store_retention_runs
from compliance_auditing.storage.tables import GOLD_RETENTION_RUNS
from lakehouse_core.delta import append, ensure_table
from lakehouse_core.incremental import EXPIRY_METADATA
from lakehouse_core.tables import Layer, Retention, declare_table
from lakehouse_platform.catalog import build_catalog
from lakehouse_testing.declarations import ToyDeclaration

pytestmark = pytest.mark.integration

NOW = datetime(2026, 6, 30, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
CUTOFF = TODAY - timedelta(days=30)


class Visit(BaseModel):
    """Silver: one visit per row, dated."""

    visit_id: str
    visit_date: date


class LastSeen(BaseModel):
    """Gold: when a visitor was last seen (a timestamp)."""

    visitor_id: str
    last_seen: datetime


class Setting(BaseModel):
    """Gold: kept for ever (no date, no retention)."""

    name: str


VISITS = declare_table(
    "shop", "visits", Layer.SILVER, Visit, "visit_date", upstream=(), retention=Retention(30, "visit_date")
)
LAST_SEEN = declare_table(
    "shop", "last_seen", Layer.GOLD, LastSeen, None, upstream=(), retention=Retention(30, "last_seen")
)
SETTINGS = declare_table("shop", "settings", Layer.GOLD, Setting, None, upstream=())
NEVER_WRITTEN = declare_table(
    "shop", "unwritten", Layer.SILVER, Visit, "visit_date", upstream=(), retention=Retention(7, "visit_date")
)

VISIT_DAYS = {
    "ancient": CUTOFF - timedelta(days=200),
    "just-expired": CUTOFF - timedelta(days=1),
    "first-kept": CUTOFF,
    "today": TODAY,
}
SEEN_AT = {
    "expired": datetime.combine(CUTOFF, datetime.min.time(), UTC) - timedelta(seconds=1),
    "kept": datetime.combine(CUTOFF, datetime.min.time(), UTC),
}


def write_lake(spark: SparkSession, lake_root: str) -> None:
    for spec in (VISITS, LAST_SEEN, SETTINGS):
        ensure_table(spark, spec, lake_root=lake_root)
    visits = list(VISIT_DAYS.items())
    append(spark.createDataFrame(visits, VISITS.schema), VISITS, lake_root=lake_root)
    seen = list(SEEN_AT.items())
    append(spark.createDataFrame(seen, LAST_SEEN.schema), LAST_SEEN, lake_root=lake_root)
    append(spark.createDataFrame([("a",)], SETTINGS.schema), SETTINGS, lake_root=lake_root)


def ids(spark: SparkSession, location: str, column: str) -> set[str]:
    return {r[column] for r in spark.read.format("delta").load(location).collect()}


def test_retention_deletes_exactly_the_expired_rows_and_records_the_run(
    spark: SparkSession, lake_root: str
) -> None:
    from deltalake import DeltaTable

    write_lake(spark, lake_root)
    catalog = build_catalog(
        [ToyDeclaration("shop", (VISITS, LAST_SEEN, SETTINGS, NEVER_WRITTEN))], lake_root=lake_root
    )

    outcome = enforce_retention(spark, catalog, clock=lambda: NOW)

    assert ids(spark, VISITS.location(lake_root), "visit_id") == {"first-kept", "today"}
    assert ids(spark, LAST_SEEN.location(lake_root), "visitor_id") == {"kept"}
    assert ids(spark, SETTINGS.location(lake_root), "name") == {"a"}
    runs = {r.table_name: r for r in outcome.runs}
    assert set(runs) == {VISITS.qualified_name, LAST_SEEN.qualified_name, NEVER_WRITTEN.qualified_name}
    visits = runs[VISITS.qualified_name]
    assert (visits.status, visits.rows_deleted, visits.cutoff) == ("expired", 2, CUTOFF)
    assert visits.table_version == DeltaTable(VISITS.location(lake_root)).version()
    newest = DeltaTable(VISITS.location(lake_root)).history(1)[0]
    assert (newest["operation"], newest["userMetadata"]) == ("DELETE", EXPIRY_METADATA)
    assert (runs[LAST_SEEN.qualified_name].status, runs[LAST_SEEN.qualified_name].rows_deleted) == (
        "expired",
        1,
    )
    assert runs[NEVER_WRITTEN.qualified_name].status == "absent"
    assert outcome.rows_deleted == {VISITS.qualified_name: 2, LAST_SEEN.qualified_name: 1}
    assert len({r.run_id for r in outcome.runs}) == 1

    again = enforce_retention(spark, catalog, clock=lambda: NOW)
    assert {r.status for r in again.runs if r.table_name != NEVER_WRITTEN.qualified_name} == {
        "nothing_expired"
    }
    assert again.rows_deleted == {}

    store_retention_runs(lake_root, outcome.runs + again.runs)
    stored = DeltaTable(GOLD_RETENTION_RUNS.location(lake_root)).to_pyarrow_table().to_pylist()
    assert len(stored) == 6
    assert {(r["table_name"], r["rows_deleted"]) for r in stored if r["status"] == "expired"} == {
        (VISITS.qualified_name, 2),
        (LAST_SEEN.qualified_name, 1),
    }
    assert {r["run_date"] for r in stored} == {TODAY}
