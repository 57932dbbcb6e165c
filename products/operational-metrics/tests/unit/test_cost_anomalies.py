"""Cost and anomaly transforms on tiny hand-built frames, expected values worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.contracts import spark_schema
from operational_metrics.config import AnomalyConfig, CostRates
from operational_metrics.contracts import RunAttempt
from operational_metrics.processing.anomalies import anomalies, scores
from operational_metrics.processing.cost import GB, asset_cost

pytestmark = pytest.mark.unit

NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)
#: Round prices, so the expected costs are easy to work out by hand.
RATES = CostRates(core_hour=3.6, gb_hour_memory=2.0, gb_month_storage=10.0)
VERSION_BYTES = "table_name string, version long, bytes_written long"


def attempt(
    record_id: str,
    *,
    product: str = "web",
    asset: str = "silver",
    status: str = "succeeded",
    started: datetime = NOON,
    seconds: float = 3600.0,
    cpu: float = 0.0,
    memory: int = 0,
    rows: int = 1000,
    quarantined: int = 0,
    versions: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "product": product,
        "asset": asset,
        "run_id": f"run-{record_id}",
        "partition": None,
        "partition_end": None,
        "attempt": 0 if status == "skipped" else 1,
        "final_attempt": True,
        "status": status,
        "started_at": started,
        "finished_at": started + timedelta(seconds=seconds),
        "run_date": started.date(),
        "duration_seconds": seconds,
        "rows_read": rows + quarantined,
        "rows_written": rows,
        "rows_quarantined": quarantined,
        "rows_read_by_table": {},
        "rows_written_by_table": {},
        "delta_versions": versions or {},
        "rows_quarantined_by_rule": {},
        "cpu_seconds": cpu,
        "peak_memory_bytes": memory,
        "error_class": None,
        "error_message": None,
        "source_partition": 0,
        "source_offset": 0,
    }


def frame(spark: SparkSession, *rows: dict[str, Any]) -> DataFrame:
    return spark.createDataFrame([tuple(r.values()) for r in rows], spark_schema(RunAttempt))


def test_two_products_running_at_once_each_pay_their_own_measured_cpu_memory_and_bytes(
    spark: SparkSession,
) -> None:
    # Both run 12:00-13:00 on the same machine; web used 10x the CPU of mobile.
    runs = frame(
        spark,
        attempt("w", product="web", cpu=1800.0, memory=2 * 2**30, rows=4000, versions={"web.gold.t": 3}),
        attempt("m", product="mobile", cpu=180.0, memory=2**30, rows=0, versions={"mobile.gold.t": 7}),
        attempt("s", product="mobile", status="skipped", seconds=0.0, rows=0),
    )
    version_bytes = spark.createDataFrame(
        [("web.gold.t", 3, int(GB) // 2), ("mobile.gold.t", 7, int(GB) // 10), ("web.gold.t", 2, 999)],
        VERSION_BYTES,
    )

    cost = {r["product"]: r.asDict() for r in asset_cost(runs, version_bytes, RATES).collect()}

    web, mobile = cost["web"], cost["mobile"]
    # web: 0.5 core-hour x 3.6 + 2 GB-hours x 2.0 + 0.5 GB x 10.0 = 1.8 + 4.0 + 5.0
    assert (web["attempts"], web["cpu_seconds"], web["bytes_written"]) == (1, 1800.0, int(GB) // 2)
    assert web["cpu_cost"] == pytest.approx(1.8)
    assert web["memory_cost"] == pytest.approx(4.0)
    assert web["storage_cost"] == pytest.approx(5.0)
    assert web["cost"] == pytest.approx(10.8)
    assert web["cost_per_1000_rows"] == pytest.approx(2.7)
    # mobile: 0.05 core-hour x 3.6 + 1 GB-hour x 2.0 + 0.1 GB x 10.0; the skipped task is free
    assert (mobile["attempts"], mobile["peak_memory_bytes"]) == (1, 2**30)
    assert mobile["cpu_cost"] == pytest.approx(0.18)
    assert mobile["cost"] == pytest.approx(0.18 + 2.0 + 1.0)
    assert mobile["cost_per_1000_rows"] is None


def test_a_version_missing_from_the_history_adds_no_bytes(spark: SparkSession) -> None:
    runs = frame(spark, attempt("w", versions={"web.gold.t": 9}), attempt("n"))

    [row] = asset_cost(runs, spark.createDataFrame([], VERSION_BYTES), RATES).collect()

    assert (row["attempts"], row["bytes_written"], row["storage_cost"]) == (2, 0, 0.0)


WEEK = timedelta(weeks=1)
CONFIG = AnomalyConfig(training_weeks=6, min_training_runs=2, threshold=3.5, min_relative_spread=0.05)
INCIDENTS = "product string, asset string, started_at timestamp, closed_at timestamp"


def weekly(*volumes: int) -> list[dict[str, Any]]:
    """One run of web/silver every Monday at noon, week i writing volumes[i] rows."""
    return [attempt(f"w{i}", started=NOON + i * WEEK, rows=rows) for i, rows in enumerate(volumes)]


def volume_anomalies(
    spark: SparkSession, runs: list[dict[str, Any]], incidents: DataFrame, day: date
) -> list[Any]:
    found = anomalies(
        frame(spark, *runs),
        incidents,
        spark.createDataFrame([], VERSION_BYTES),
        days=[day],
        rates=RATES,
        config=CONFIG,
    )
    return found.filter("metric = 'rows_written'").collect()


def test_a_volume_drop_after_a_steady_training_window_is_flagged(spark: SparkSession) -> None:
    runs = weekly(1000, 1010, 990, 1005, 100)
    # an hourly run on the same day is another season: it is not in the baseline
    runs.append(attempt("other-hour", started=NOON + 4 * WEEK + timedelta(hours=1), rows=5))
    no_incidents = spark.createDataFrame([], INCIDENTS)

    [drop] = volume_anomalies(spark, runs, no_incidents, (NOON + 4 * WEEK).date())

    # median of 1000, 1010, 990, 1005 = 1002.5; MAD = median(2.5, 7.5, 12.5, 2.5) = 5;
    # spread = max(1.4826 x 5, 0.05 x 1002.5) = 50.125
    assert (drop["record_id"], drop["direction"], drop["training_runs"]) == ("w4", "drop", 4)
    assert (drop["observed"], drop["expected"]) == (100.0, 1002.5)
    assert drop["score"] == pytest.approx((100 - 1002.5) / 50.125)
    assert drop["low"] == pytest.approx(1002.5 - 3.5 * 50.125)
    assert drop["high"] == pytest.approx(1002.5 + 3.5 * 50.125)


def test_a_drop_inside_an_incident_window_is_not_trained_on(spark: SparkSession) -> None:
    # weeks 3-6 drop to 100 during an incident of web/silver; week 7 is back to normal
    runs = weekly(1000, 1010, 990, 100, 100, 100, 100, 1000)
    week_7 = (NOON + 7 * WEEK).date()
    incident = spark.createDataFrame(
        [("web", "silver", NOON + 3 * WEEK - timedelta(hours=1), NOON + 6 * WEEK + timedelta(hours=2))],
        INCIDENTS,
    )
    no_incidents = spark.createDataFrame([], INCIDENTS)

    with_incident = volume_anomalies(spark, runs, incident, week_7)
    without = volume_anomalies(spark, runs, no_incidents, week_7)
    [baseline] = (
        scores(
            frame(spark, *runs),
            incident,
            spark.createDataFrame([], VERSION_BYTES),
            days=[week_7],
            rates=RATES,
            config=CONFIG,
        )
        .filter("metric = 'rows_written'")
        .collect()
    )

    assert with_incident == []
    # trained on weeks 1-6 minus the incident's: 1010 and 990
    assert (baseline["expected"], baseline["training_runs"], baseline["score"]) == (1000.0, 2, 0.0)
    # the control: trained on the drop too, the baseline is 100 and the normal week looks a spike
    assert [(r["record_id"], r["direction"]) for r in without] == [("w7", "spike")]


def test_the_bytes_of_a_version_are_what_its_spark_commit_added(spark: SparkSession, lake_root: str) -> None:
    from lakehouse_core.delta import append, merge_insert_new
    from operational_metrics.processing.jobs import version_bytes
    from operational_metrics.storage.tables import SILVER_RUNS

    runs = frame(spark, attempt("a"), attempt("b"))
    append(runs, SILVER_RUNS, lake_root=lake_root)
    merge_insert_new(
        frame(spark, attempt("b"), attempt("c")), SILVER_RUNS, lake_root=lake_root, keys=["record_id"]
    )
    location = SILVER_RUNS.location(lake_root)

    sizes = {r["version"]: r["bytes_written"] for r in version_bytes(spark, {"t": location}).collect()}

    # the table's creation, the append and the merge (which inserted "c")
    assert sizes == bytes_added_on_disk(Path(location))
    assert [version for version, size in sorted(sizes.items()) if size > 0] == [1, 2]


def test_the_bytes_of_a_delta_rs_commit_are_the_sizes_of_the_files_it_added(
    spark: SparkSession, lake_root: str
) -> None:
    from lakehouse_core.delta_appender import append_models
    from operational_metrics.processing.jobs import version_bytes
    from operational_metrics.storage.tables import SILVER_RUNS

    append_models(SILVER_RUNS, [RunAttempt(**attempt("a"))], lake_root=lake_root)
    append_models(SILVER_RUNS, [RunAttempt(**attempt("b")), RunAttempt(**attempt("c"))], lake_root=lake_root)
    location = SILVER_RUNS.location(lake_root)

    sizes = {r["version"]: r["bytes_written"] for r in version_bytes(spark, {"t": location}).collect()}

    assert sizes == bytes_added_on_disk(Path(location))
    assert all(size > 0 for size in sizes.values()), sizes


def bytes_added_on_disk(location: Path) -> dict[int, int]:
    """Each commit's bytes: the sizes on disk of the data files its log entry added."""
    return {
        version: sum(f.stat().st_size for f in location.glob("**/*.parquet") if f.name in names)
        for version, names in added_files(location).items()
    }


def added_files(location: Path) -> dict[int, set[str]]:
    """The data file names each commit of the Delta log added."""
    files: dict[int, set[str]] = {}
    for commit in sorted((location / "_delta_log").glob("*.json")):
        actions = [json.loads(line) for line in commit.read_text().splitlines() if line]
        files[int(commit.stem)] = {Path(a["add"]["path"]).name for a in actions if "add" in a}
    return files
