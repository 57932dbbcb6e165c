"""Bronze run records → silver attempts and quarantine, on a handful of hand-made records."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.contracts import conform
from lakehouse_core.ingestion.bronze import BRONZE_SCHEMA
from lakehouse_core.platform_topics import PipelineRunRecord
from operational_metrics.contracts import RunAttempt
from operational_metrics.processing.silver import parse_runs, split_resent

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)


def record(**overrides: Any) -> PipelineRunRecord:
    fields: dict[str, Any] = {
        "record_id": "r1",
        "product": "web-user-analytics",
        "asset": "silver",
        "run_id": "run-1",
        "attempt": 1,
        "final_attempt": True,
        "status": "succeeded",
        "started_at": T0,
        "finished_at": datetime(2026, 3, 2, 10, 0, 30, 123456, tzinfo=UTC),
        "rows_read": {"web-user-analytics.bronze.events": 100},
        "rows_written": {"web-user-analytics.silver.events": 90, "web-user-analytics.quarantine.events": 10},
        "delta_versions": {"web-user-analytics.silver.events": 4},
        "rows_quarantined": {"unique_message_id": 10},
        "cpu_seconds": 1.5,
        "peak_memory_bytes": 1000,
    }
    return PipelineRunRecord(**{**fields, **overrides})


def bronze(spark: SparkSession, *values: str) -> DataFrame:
    now = datetime(2026, 3, 2, 11, tzinfo=UTC)
    rows = [
        (None, v, "platform.pipeline_runs.v1", 0, i, now, now, now.date(), None) for i, v in enumerate(values)
    ]
    return spark.createDataFrame(rows, BRONZE_SCHEMA)


def test_a_record_becomes_one_typed_attempt_with_totals(spark: SparkSession) -> None:
    attempts, quarantined = parse_runs(
        bronze(spark, record(partition="2026-01-01..2026-01-05").model_dump_json())
    )

    [row] = attempts.collect()
    assert quarantined.count() == 0
    assert (row["record_id"], row["product"], row["asset"], row["status"]) == (
        "r1",
        "web-user-analytics",
        "silver",
        "succeeded",
    )
    assert row["started_at"] == T0.replace(tzinfo=None)
    assert row["run_date"] == date(2026, 3, 2)
    assert row["duration_seconds"] == pytest.approx(30.0)
    assert (row["rows_read"], row["rows_written"], row["rows_quarantined"]) == (100, 100, 10)
    assert row["delta_versions"] == {"web-user-analytics.silver.events": 4}
    assert row["partition_end"] == date(2026, 1, 5)
    assert (row["source_partition"], row["source_offset"]) == (0, 0)


@pytest.mark.parametrize(
    ("partition", "end"),
    [(None, None), ("2026-02-03", date(2026, 2, 3)), ("ios", None), ("2026-02-03..x", None)],
)
def test_the_partition_end_is_the_last_day_a_partition_names(
    spark: SparkSession, partition: str | None, end: date | None
) -> None:
    attempts, _ = parse_runs(bronze(spark, record(partition=partition).model_dump_json()))

    assert attempts.collect()[0]["partition_end"] == end


def test_malformed_records_go_to_quarantine_with_each_failed_rule(spark: SparkSession) -> None:
    good = record().model_dump(mode="json")
    missing = {k: v for k, v in good.items() if k not in ("run_id", "attempt")}
    backwards = {**good, "record_id": "r3", "finished_at": "2026-03-02T09:00:00Z", "status": "exploded"}
    negative = {**good, "record_id": "r4", "rows_read": {"t": -1}}
    import json

    values = ["not json", "[1, 2]", json.dumps(missing), json.dumps(backwards), json.dumps(negative)]
    attempts, quarantined = parse_runs(bronze(spark, *values))

    assert attempts.count() == 0
    rows = {r["source_offset"]: r for r in quarantined.collect()}
    assert rows[0]["failed_rules"] == ["valid_json_object"]
    assert rows[1]["failed_rules"] == ["valid_json_object"]
    assert rows[2]["failed_rules"] == ["required_fields"]
    assert "missing or not of its type: run_id, attempt" in rows[2]["reason"]
    assert rows[3]["failed_rules"] == ["known_status", "finished_after_started"]
    assert "status exploded is not one of succeeded, failed, skipped" in rows[3]["reason"]
    assert rows[4]["failed_rules"] == ["non_negative"]
    assert "negative or null: rows_read" in rows[4]["reason"]
    assert rows[3]["event_id"] == "r3"
    assert rows[0]["raw_value"] == "not json"


def test_a_resent_record_counts_once_and_its_copy_goes_to_quarantine(spark: SparkSession) -> None:
    first, again, other = record(), record(), record(record_id="r2")
    batch, _ = parse_runs(
        bronze(spark, first.model_dump_json(), again.model_dump_json(), other.model_dump_json())
    )
    stored = spark.createDataFrame([], _silver_schema())

    new, resent = split_resent(batch, stored)

    assert sorted((r["record_id"], r["source_offset"]) for r in new.collect()) == [("r1", 0), ("r2", 2)]
    [copy] = resent.collect()
    assert (copy["event_id"], copy["source_offset"], copy["failed_rules"]) == ("r1", 1, ["unique_record_id"])
    assert "already stored from partition 0, offset 0" in copy["reason"]


def test_a_record_stored_by_an_earlier_batch_is_a_resend_and_a_replay_is_neither(spark: SparkSession) -> None:
    batch, _ = parse_runs(bronze(spark, record().model_dump_json(), record().model_dump_json()))
    stored_from_offset_0 = conform(batch, RunAttempt).filter("source_offset = 0").collect()
    stored = spark.createDataFrame(stored_from_offset_0, _silver_schema())

    new, resent = split_resent(batch, stored)

    assert new.count() == 0
    assert [(r["event_id"], r["source_offset"]) for r in resent.collect()] == [("r1", 1)]


def _silver_schema() -> Any:
    from lakehouse_core.contracts import spark_schema

    return spark_schema(RunAttempt)
