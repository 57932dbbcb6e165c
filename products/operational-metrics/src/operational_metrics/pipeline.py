"""operational-metrics as the platform runs it: its declaration (found through the
``lakehouse.products`` entry point) and its task graph, topics → bronze → silver → run_stats,
freshness after silver (it reads which versions backfills wrote), sla_compliance after freshness,
incidents after both silver and freshness, cost after silver and anomalies after cost and
incidents (incident windows are left out of the anomaly baselines)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_core.incremental import IncrementalRun
from lakehouse_core.ingestion.bronze import product_bronze, run_bronze_ingestion
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.platform_topics import PIPELINE_RUNS
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import KAFKA_UPSTREAM, TableSpec
from lakehouse_platform.catalog import Catalog, ProductAssets, load_catalog
from lakehouse_platform.orchestrator import Pipeline, RunContext, Task
from lakehouse_platform.task_reports import quarantined_by_rule, versions_before, written_since
from operational_metrics import PRODUCT
from operational_metrics.config import SOURCE_CONFIG_DIR, OpsConfig, load_ops_config
from operational_metrics.processing.jobs import (
    check_freshness,
    run_anomalies,
    run_cost,
    run_incidents,
    run_run_stats,
    run_silver,
    run_sla_compliance,
)
from operational_metrics.storage.tables import (
    BRONZE_RUNS,
    GOLD_ANOMALIES,
    GOLD_COST,
    GOLD_FRESHNESS,
    GOLD_INCIDENTS,
    GOLD_RUN_STATS,
    GOLD_SLA_COMPLIANCE,
    QUARANTINE_RUNS,
    SILVER_RUNS,
    TABLES,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pyspark.sql import SparkSession

SparkProvider = Callable[[], "SparkSession"]
Clock = Callable[[], datetime]


@cache
def spark_session() -> SparkSession:
    """The product's Spark session, one per process (built when a Spark step first runs)."""
    from lakehouse_core.spark import build_spark_session

    return build_spark_session(PRODUCT, settings=LakehouseSettings())


def runs_topic(config: OpsConfig) -> TopicSpec:
    """``platform.pipeline_runs.v1`` as the platform declares it, under the configured name."""
    configured = config.topics["pipeline_runs"]
    return TopicSpec(
        configured.name, partitions=PIPELINE_RUNS.spec.partitions, config=PIPELINE_RUNS.spec.config
    )


def build_pipeline(
    config: OpsConfig,
    *,
    spark: SparkProvider,
    bootstrap_servers: str,
    lake_root: str,
    catalog: Callable[[], Catalog] | None = None,
    clock: Clock | None = None,
) -> Pipeline:
    """The product's task graph. ``catalog`` gives the tables whose freshness is checked (by
    default every installed product's); ``clock`` the time of the check (default: now)."""
    catalogued = catalog or partial(load_catalog, lake_root=lake_root)
    topic = runs_topic(config)

    def topics(_: RunContext) -> Mapping[str, Any]:
        return {"created": ensure_topics(bootstrap_servers, [topic])}

    def bronze(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        before = versions_before(session, [BRONZE_RUNS], lake_root=lake_root)
        job = product_bronze(
            PRODUCT,
            topic=topic.name,
            table=BRONZE_RUNS,
            bootstrap_servers=bootstrap_servers,
            lake_root=lake_root,
        )
        records = run_bronze_ingestion(session, job)
        written = written_since(session, [BRONZE_RUNS], before, lake_root=lake_root)
        return {
            "records": records,
            "rows_read": {f"{KAFKA_UPSTREAM}{topic.name}": records},
            **written.outputs(),
        }

    def silver(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        writes = [SILVER_RUNS, QUARANTINE_RUNS]
        before = versions_before(session, writes, lake_root=lake_root)
        run = run_silver(session, lake_root=lake_root)
        written = written_since(session, writes, before, lake_root=lake_root)
        name = QUARANTINE_RUNS.qualified_name
        quarantined = quarantined_by_rule(
            session, QUARANTINE_RUNS, before.get(name), written.delta_versions.get(name), lake_root=lake_root
        )
        return {
            "batches": run.batches,
            "rows_read": {BRONZE_RUNS.qualified_name: run.input_rows},
            **written.outputs(),
            "rows_quarantined": quarantined,
        }

    def on_changes(
        job: Callable[..., IncrementalRun], reads: TableSpec, output: TableSpec
    ) -> Callable[[RunContext], Mapping[str, Any]]:
        def task(_: RunContext) -> Mapping[str, Any]:
            session = spark()
            before = versions_before(session, [output], lake_root=lake_root)
            run = job(session, lake_root=lake_root)
            written = written_since(session, [output], before, lake_root=lake_root)
            return {
                "batches": run.batches,
                "rows_read": {reads.qualified_name: run.input_rows},
                **written.outputs(),
            }

        return task

    def cost_job(session: SparkSession, *, lake_root: str) -> IncrementalRun:
        return run_cost(session, catalogued(), lake_root=lake_root, rates=config.cost)

    def anomalies_job(session: SparkSession, *, lake_root: str) -> IncrementalRun:
        return run_anomalies(
            session, catalogued(), lake_root=lake_root, rates=config.cost, config=config.anomalies
        )

    def freshness(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        before = versions_before(session, [GOLD_FRESHNESS], lake_root=lake_root)
        checked = check_freshness(
            session, catalogued(), lake_root=lake_root, checked_at=clock() if clock else None
        )
        written = written_since(session, [GOLD_FRESHNESS], before, lake_root=lake_root)
        return {"tables": checked.tables, "by_state": checked.by_state, **written.outputs()}

    return Pipeline(
        PRODUCT,
        [
            Task("topics", topics),
            Task("bronze", bronze, depends_on=("topics",), writes=(BRONZE_RUNS,)),
            Task("silver", silver, depends_on=("bronze",), writes=(SILVER_RUNS, QUARANTINE_RUNS)),
            Task(
                "run_stats",
                on_changes(run_run_stats, SILVER_RUNS, GOLD_RUN_STATS),
                depends_on=("silver",),
                writes=(GOLD_RUN_STATS,),
            ),
            Task("freshness", freshness, depends_on=("silver",), writes=(GOLD_FRESHNESS,)),
            Task(
                "sla_compliance",
                on_changes(run_sla_compliance, GOLD_FRESHNESS, GOLD_SLA_COMPLIANCE),
                depends_on=("freshness",),
                writes=(GOLD_SLA_COMPLIANCE,),
            ),
            Task(
                "incidents",
                on_changes(run_incidents, SILVER_RUNS, GOLD_INCIDENTS),
                depends_on=("silver", "freshness"),
                writes=(GOLD_INCIDENTS,),
            ),
            Task(
                "cost",
                on_changes(cost_job, SILVER_RUNS, GOLD_COST),
                depends_on=("silver",),
                writes=(GOLD_COST,),
            ),
            Task(
                "anomalies",
                on_changes(anomalies_job, SILVER_RUNS, GOLD_ANOMALIES),
                depends_on=("cost", "incidents"),
                writes=(GOLD_ANOMALIES,),
            ),
        ],
    )


@dataclass(frozen=True)
class OperationalMetricsProduct:
    """The product's declaration: what the catalog lists and what the platform runs."""

    name: str = PRODUCT
    description: str = (
        "every product's pipeline runs, every table's freshness against its SLA, SLA compliance, "
        "incidents, cost and anomalies."
    )
    tables: tuple[TableSpec, ...] = TABLES
    load_config: Callable[[], OpsConfig] = field(default=load_ops_config)
    schema_record: Path | None = SOURCE_CONFIG_DIR / "schemas.json"

    def product_assets(self, settings: LakehouseSettings, catalog: Catalog) -> ProductAssets:
        """The pipeline, checking the freshness of the tables of ``catalog``."""
        pipeline = build_pipeline(
            self.load_config(),
            spark=spark_session,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            lake_root=settings.lake_root,
            catalog=lambda: catalog,
        )
        return ProductAssets(pipeline)

    def serving_app(self, settings: LakehouseSettings) -> FastAPI:
        """The product's REST API over the lake of ``settings`` (what ``operational-metrics api`` serves)."""
        from operational_metrics.serving.app import create_app

        return create_app(self.load_config(), lake_root=settings.lake_root)


OPERATIONAL_METRICS = OperationalMetricsProduct()
