"""The Dagster definitions derived from the installed products, and how their ops run tasks."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from pydantic import BaseModel

from lakehouse_core.contracts import spark_schema
from lakehouse_core.errors import QualityError
from lakehouse_core.kafka.spool import spool_folder
from lakehouse_core.platform_topics import PIPELINE_RUNS_TOPIC, PipelineRunRecord
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import ConfiguredTopic, Layer, TableSpec
from lakehouse_platform.catalog import build_catalog, discover_products
from lakehouse_platform.dagster_assets import (
    DEFAULT_SCHEDULE,
    SilverChecks,
    quarantined_since,
    schedule_for,
    table_key,
    task_asset,
)
from lakehouse_platform.dagster_definitions import build_definitions
from lakehouse_platform.lineage import read_events
from lakehouse_platform.orchestrator import Pipeline, RunContext, Task
from lakehouse_testing.declarations import ToyConfig as Config
from lakehouse_testing.declarations import ToyDeclaration as Declaration

pytestmark = pytest.mark.unit

WEB = "web-user-analytics"
MOBILE = "mobile-user-analytics"


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name.split("/"))


@pytest.fixture(scope="module")
def defs(tmp_path_factory: pytest.TempPathFactory) -> dg.Definitions:
    lake = tmp_path_factory.mktemp("lake")
    return build_definitions(settings=LakehouseSettings(lake_root=str(lake)))


@pytest.fixture(scope="module")
def graph(defs: dg.Definitions) -> Any:
    return defs.resolve_asset_graph()


def test_every_table_of_both_products_is_an_asset_keyed_product_layer_table(graph: Any) -> None:
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for product in (WEB, MOBILE):
        assert {
            f"{product}/bronze/events",
            f"{product}/quarantine/events",
            f"{product}/silver/events",
            f"{product}/silver/sessions",
        } <= keys
    assert {f"{WEB}/gold/daily_traffic", f"{WEB}/gold/retention_cohorts"} <= keys
    assert {f"{MOBILE}/gold/crash_free", f"{MOBILE}/silver/screen_views"} <= keys
    assert {"kafka/web.events.v1", "kafka/mobile.events.v1"} <= keys


def test_deps_follow_the_catalog_down_to_the_kafka_topic(graph: Any) -> None:
    parents = {k: graph.get(k).parent_keys for k in graph.get_all_asset_keys()}
    assert key(f"{WEB}/silver/sessions") in parents[key(f"{WEB}/gold/daily_traffic")]
    assert key(f"{WEB}/silver/events") in parents[key(f"{WEB}/silver/sessions")]
    assert parents[key(f"{WEB}/bronze/events")] == {key("kafka/web.events.v1")}
    assert parents[key(f"{MOBILE}/bronze/events")] == {key("kafka/mobile.events.v1")}
    assert not graph.get(key("kafka/web.events.v1")).is_materializable
    assert graph.get(key(f"{WEB}/gold/daily_traffic")).is_materializable


def test_the_silver_events_asset_has_one_check_per_quality_rule(graph: Any) -> None:
    for product in (WEB, MOBILE):
        checks = {c.name for c in graph.asset_check_keys if c.asset_key == key(f"{product}/silver/events")}
        assert {"valid_json", "has_message_id", "event_time_plausible", "unique_message_id"} <= checks
        assert len(checks) == 13
    assert all(c.asset_key.path[1:] == ["silver", "events"] for c in graph.asset_check_keys)


def test_ops_retry_with_exponential_backoff_from_the_task(defs: dg.Definitions) -> None:
    silver = defs.resolve_assets_def(key(f"{WEB}/silver/events"))
    policy = silver.op.retry_policy
    assert policy is not None
    assert (policy.max_retries, policy.delay, policy.backoff) == (2, 1.0, dg.Backoff.EXPONENTIAL)
    assert silver.keys >= {key(f"{WEB}/silver/events"), key(f"{WEB}/silver/sessions")}
    assert key(f"{WEB}/gold/daily_traffic") not in silver.keys


def test_assets_are_grouped_by_product_and_owned_by_its_team(graph: Any, defs: dg.Definitions) -> None:
    daily = graph.get(key(f"{WEB}/gold/daily_traffic"))
    assert daily.group_name == "web_user_analytics"
    assert graph.get(key(f"{MOBILE}/gold/crash_free")).group_name == "mobile_user_analytics"
    spec = next(s for s in defs.resolve_assets_def(daily.key).specs if s.key == daily.key)
    assert spec.owners == ["web-analytics@example.com", "team:Growth Analytics"]
    assert {"delta", "spark"} <= set(spec.kinds)
    assert spec.description
    assert spec.metadata["partitioned_by"] == "date"


def test_the_column_schema_comes_from_the_contract(defs: dg.Definitions) -> None:
    daily = key(f"{WEB}/gold/daily_traffic")
    spec = next(s for s in defs.resolve_assets_def(daily).specs if s.key == daily)
    schema = spec.metadata["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    columns = {c.name: c for c in schema.columns}
    assert columns["date"].type == "date"
    assert columns["visitors"].type == "bigint"
    assert columns["date"].constraints.nullable is False
    assert "avg_session_duration_seconds" in columns


def test_each_product_has_a_stopped_schedule_running_its_assets(defs: dg.Definitions) -> None:
    for group in ("web_user_analytics", "mobile_user_analytics"):
        schedule = defs.resolve_schedule_def(f"{group}_schedule")
        assert schedule.cron_schedule == DEFAULT_SCHEDULE
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
        job = defs.resolve_job_def(f"{group}_pipeline")
        selected = job.asset_layer.selected_asset_keys
        assert all(k.path[0].replace("-", "_") == group for k in selected)
        assert len(selected) > 5


class Row(BaseModel):
    id: str


def spec(product: str, layer: Layer, name: str, *upstream: str | ConfiguredTopic) -> TableSpec:
    return TableSpec(
        name=name, layer=layer, product=product, schema=spark_schema(Row), contract=Row, upstream=upstream
    )


def test_a_table_of_another_product_read_by_its_catalog_name_is_a_dep_across_products() -> None:
    members = spec("segments", Layer.GOLD, "members", f"{WEB}.silver.sessions")
    graph = build_definitions(
        [*discover_products(), Declaration("segments", (members,))]
    ).resolve_asset_graph()
    assert graph.get(key("segments/gold/members")).parent_keys == {key(f"{WEB}/silver/sessions")}


SHOP_BRONZE = spec("shop", Layer.BRONZE, "events", ConfiguredTopic("events"))


def shop_asset(
    run: Callable[[RunContext], Mapping[str, Any] | None],
    calls: list[str],
    settings: LakehouseSettings | None = None,
) -> dg.AssetsDefinition:
    def topics(_: RunContext) -> Mapping[str, Any]:
        calls.append("topics")
        return {"created": []}

    pipeline = Pipeline(
        "shop",
        [
            Task("topics", topics),
            Task(
                "bronze",
                run,
                depends_on=("topics",),
                retries=2,
                retry_backoff_seconds=0,
                writes=(SHOP_BRONZE,),
            ),
        ],
    )
    catalog = build_catalog([Declaration("shop", (SHOP_BRONZE,))], lake_root="/lake")
    return task_asset(pipeline.tasks["bronze"], pipeline, catalog=catalog, config=Config(), settings=settings)


def test_a_failing_task_is_retried_and_its_prerequisite_runs_first() -> None:
    calls: list[str] = []

    def flaky(context: RunContext) -> Mapping[str, Any]:
        calls.append(f"bronze attempt {context.attempt} after {sorted(context.upstream_outputs)}")
        if context.attempt == 1:
            raise ConnectionError("broker not reachable")
        return {"records": 3}

    result = dg.materialize([shop_asset(flaky, calls)])
    assert result.success
    assert calls == [
        "topics",
        "bronze attempt 1 after ['topics']",
        "topics",
        "bronze attempt 2 after ['topics']",
    ]
    [materialized] = result.asset_materializations_for_node("shop__bronze")
    assert materialized.asset_key == table_key(SHOP_BRONZE)
    assert materialized.metadata["task_outputs"] == dg.JsonMetadataValue({"records": 3})


def test_attempts_run_by_dagster_report_run_records_and_lineage_like_the_pipeline_command(
    tmp_path: Path,
) -> None:
    def flaky(context: RunContext) -> Mapping[str, Any]:
        if context.attempt == 1:
            raise ConnectionError("broker not reachable")
        return {"records": 3, "rows_written": {SHOP_BRONZE.qualified_name: 3}}

    settings = LakehouseSettings(
        lake_root=str(tmp_path / "lake"), state_dir=tmp_path / "state", kafka_bootstrap_servers="127.0.0.1:1"
    )
    assert dg.materialize([shop_asset(flaky, [], settings)]).success

    spooled = [
        PipelineRunRecord.model_validate(json.loads(line)["value"])
        for segment in sorted(spool_folder(settings.state_dir, PIPELINE_RUNS_TOPIC).glob("*.jsonl"))
        for line in segment.read_bytes().splitlines()
    ]
    assert [(r.asset, r.attempt, r.status, r.final_attempt) for r in spooled] == [
        ("topics", 1, "succeeded", True),
        ("bronze", 1, "failed", False),
        ("topics", 2, "succeeded", True),
        ("bronze", 2, "succeeded", True),
    ]
    assert spooled[-1].rows_written == {SHOP_BRONZE.qualified_name: 3}
    lineage = [(e["job"]["name"], e["eventType"]) for e in read_events(settings.lineage_file)]
    assert lineage == [
        ("topics", "START"),
        ("topics", "COMPLETE"),
        ("bronze", "START"),
        ("bronze", "FAIL"),
        ("topics", "START"),
        ("topics", "COMPLETE"),
        ("bronze", "START"),
        ("bronze", "COMPLETE"),
    ]


def test_a_data_error_fails_at_once_without_a_retry() -> None:
    calls: list[str] = []

    def refused(context: RunContext) -> Mapping[str, Any]:
        calls.append(f"bronze attempt {context.attempt}")
        try:
            raise QualityError("82% of the batch failed has_message_id")
        except QualityError as cause:
            raise RuntimeError("the batch was not committed") from cause

    result = dg.materialize([shop_asset(refused, calls)], raise_on_error=False)
    assert not result.success
    assert calls == ["topics", "bronze attempt 1"]
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_failure_data.user_failure_data is not None
    assert "82% of the batch failed has_message_id" in (
        failure.step_failure_data.user_failure_data.description or ""
    )
    assert "not retried" in (failure.step_failure_data.user_failure_data.description or "")


def test_quarantined_rows_of_the_run_are_counted_per_rule(tmp_path: Path) -> None:
    quarantine = spec("shop", Layer.QUARANTINE, "events", "shop.bronze.events")
    started = datetime(2026, 3, 1, 12, tzinfo=UTC)
    rows = pa.table(
        {
            "failed_rules": [
                ["has_message_id"],
                ["has_message_id", "known_type"],
                ["unique_message_id"],
                ["known_type"],
            ],
            "quarantined_at": pa.array(
                [
                    started + timedelta(seconds=1),
                    started,
                    started + timedelta(minutes=5),
                    started - timedelta(days=1),
                ],
                type=pa.timestamp("us", tz="UTC"),
            ),
        }
    )
    write_deltalake(quarantine.location(str(tmp_path)), rows)
    assert quarantined_since(quarantine, str(tmp_path), started) == {
        "has_message_id": 2,
        "known_type": 1,
        "unique_message_id": 1,
    }
    assert quarantined_since(spec("shop", Layer.QUARANTINE, "missing"), str(tmp_path), started) == {}


SHOP_SILVER = spec("shop", Layer.SILVER, "events", "shop.bronze.events")
SHOP_QUARANTINE = spec("shop", Layer.QUARANTINE, "events", "shop.bronze.events")


def shop_silver(lake: str, run: Callable[[RunContext], Mapping[str, Any] | None]) -> dg.AssetsDefinition:
    tables = (SHOP_SILVER, SHOP_QUARANTINE)
    pipeline = Pipeline("shop", [Task("silver", run, retries=0, writes=tables)])
    catalog = build_catalog([Declaration("shop", (SHOP_BRONZE, *tables))], lake_root=lake)
    rules = {"has_message_id": "messageId is missing", "known_type": "type is unknown"}
    checks = SilverChecks(SHOP_SILVER, SHOP_QUARANTINE, rules, lake)
    return task_asset(pipeline.tasks["silver"], pipeline, catalog=catalog, config=Config(), checks=checks)


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, Any]]:
    evaluations = [
        e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return {e.check_name: (e.passed, e.metadata["quarantined"].value) for e in evaluations}


def test_the_checks_count_the_rows_the_run_quarantined_per_rule(tmp_path: Path) -> None:
    lake = str(tmp_path)
    earlier = datetime.now(tz=UTC) - timedelta(days=1)

    def quarantine(rules: list[list[str]], at: datetime) -> None:
        rows = {
            "failed_rules": rules,
            "quarantined_at": pa.array([at] * len(rules), pa.timestamp("us", tz="UTC")),
        }
        write_deltalake(SHOP_QUARANTINE.location(lake), pa.table(rows), mode="append")

    quarantine([["known_type"], ["known_type"]], earlier)

    def silver(_: RunContext) -> Mapping[str, Any]:
        quarantine(
            [["has_message_id"], ["has_message_id", "known_type"], ["has_message_id"]], datetime.now(tz=UTC)
        )
        return {"batches": 1}

    result = dg.materialize([shop_silver(lake, silver)])
    assert check_results(result) == {"has_message_id": (False, 3), "known_type": (False, 1)}


def test_the_checks_take_the_counts_the_task_reports(tmp_path: Path) -> None:
    def silver(_: RunContext) -> Mapping[str, Any]:
        return {"rows_quarantined": {"known_type": 4}}

    result = dg.materialize([shop_silver(str(tmp_path), silver)])
    assert check_results(result) == {"has_message_id": (True, 0), "known_type": (False, 4)}


@dataclass(frozen=True)
class ScheduledConfig(Config):
    schedule: str = "0 3 * * *"


def test_a_configured_cron_is_the_products_schedule() -> None:
    job = dg.define_asset_job("shop_pipeline", selection=dg.AssetSelection.groups("shop"))
    assert schedule_for("shop", ScheduledConfig(), job).cron_schedule == "0 3 * * *"
    assert schedule_for("shop", Config(), job).cron_schedule == DEFAULT_SCHEDULE


def test_a_task_whose_later_table_feeds_an_earlier_one_materializes_upstream_first() -> None:
    """The gold task declares a dimension after the table that reads it (web's retention
    cohorts read the user dimension); Dagster refuses outputs out of dependency order."""
    cohorts = spec("shop", Layer.GOLD, "cohorts", "shop.gold.dimension")
    dimension = spec("shop", Layer.GOLD, "dimension", "shop.bronze.events")
    versions = {"shop.gold.cohorts": 4, "shop.gold.dimension": 7}
    pipeline = Pipeline(
        "shop",
        [Task("gold", lambda _: {"delta_versions": versions}, retries=0, writes=(cohorts, dimension))],
    )
    catalog = build_catalog([Declaration("shop", (SHOP_BRONZE, cohorts, dimension))], lake_root="/lake")
    result = dg.materialize([task_asset(pipeline.tasks["gold"], pipeline, catalog=catalog, config=Config())])
    assert result.success
    materialized = result.asset_materializations_for_node("shop__gold")
    assert [m.asset_key for m in materialized] == [table_key(dimension), table_key(cohorts)]
    assert [m.metadata["delta_version"] for m in materialized] == [
        dg.IntMetadataValue(7),
        dg.IntMetadataValue(4),
    ]


def test_each_product_has_a_daily_partitioned_gold_backfill_job_and_its_pipeline_job_stays_unpartitioned(
    defs: dg.Definitions,
) -> None:
    for product in (WEB, MOBILE):
        group = product.replace("-", "_")
        backfill = defs.resolve_job_def(f"{group}_gold_backfill")
        partitions = backfill.partitions_def
        assert isinstance(partitions, dg.DailyPartitionsDefinition)
        assert (partitions.start.date().isoformat(), partitions.timezone) == ("2016-01-01", "UTC")
        assert "2024-03-07" in partitions.get_partition_keys()
        assert [node.name for node in backfill.nodes] == [f"{group}__gold_backfill"]
        assert defs.resolve_job_def(f"{group}_pipeline").partitions_def is None
