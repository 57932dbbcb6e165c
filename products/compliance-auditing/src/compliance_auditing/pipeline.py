"""compliance-auditing as the platform runs it: its declaration (found through the
``lakehouse.products`` entry point) and its task graph, topics → bronze → silver (the chained
audit trail) → accesses_daily and key_reads_daily, erasure (the pending requests, across every
catalogued table), reapply_erasures (the completed erasures, to tables restored in place from a
backup), access (the pending access requests' exports) and retention (the expired
rows of every catalogued table with a retention)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance_auditing import PRODUCT
from compliance_auditing.config import SOURCE_CONFIG_DIR, ComplianceConfig, load_compliance_config
from compliance_auditing.processing.access import execute_access_requests
from compliance_auditing.processing.erase import execute_erasures
from compliance_auditing.processing.jobs import run_accesses, run_key_reads, run_silver
from compliance_auditing.processing.reapply import reapply_erasures
from compliance_auditing.processing.retention import enforce_retention
from compliance_auditing.storage.requests import store_retention_runs
from compliance_auditing.storage.tables import (
    BRONZE_AUDIT,
    GOLD_ACCESSES_DAILY,
    GOLD_ERASURE_CERTIFICATES,
    GOLD_KEY_READS_DAILY,
    GOLD_RETENTION_RUNS,
    QUARANTINE_AUDIT,
    SILVER_ACCESS_REQUESTS,
    SILVER_AUDIT_TRAIL,
    SILVER_CHAIN_ROOTS,
    SILVER_ERASED_SUBJECTS,
    SILVER_ERASURE_REQUESTS,
    TABLES,
)
from lakehouse_core.ingestion.bronze import product_bronze, run_bronze_ingestion
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.platform_topics import AUDIT
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import KAFKA_UPSTREAM, TableSpec
from lakehouse_platform.catalog import Catalog, ProductAssets, load_catalog
from lakehouse_platform.orchestrator import Pipeline, RunContext, Task
from lakehouse_platform.task_reports import quarantined_by_rule, versions_before, written_since

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pyspark.sql import SparkSession

    from lakehouse_core.incremental import IncrementalRun

SparkProvider = Callable[[], "SparkSession"]


@cache
def spark_session() -> SparkSession:
    """The product's Spark session, one per process (built when a Spark step first runs)."""
    from lakehouse_core.spark import build_spark_session

    return build_spark_session(PRODUCT, settings=LakehouseSettings())


def audit_topic(config: ComplianceConfig) -> TopicSpec:
    """``platform.audit.v1`` as the platform declares it, under the configured name."""
    configured = config.topics["audit"]
    return TopicSpec(configured.name, partitions=AUDIT.spec.partitions, config=AUDIT.spec.config)


def build_pipeline(
    config: ComplianceConfig,
    *,
    spark: SparkProvider,
    bootstrap_servers: str,
    lake_root: str,
    catalog: Callable[[], Catalog] | None = None,
) -> Pipeline:
    """The product's task graph. ``catalog`` gives the tables erasure searches and purges (by
    default every installed product's)."""
    catalogued = catalog or partial(load_catalog, lake_root=lake_root)
    topic = audit_topic(config)

    def topics(_: RunContext) -> Mapping[str, Any]:
        return {"created": ensure_topics(bootstrap_servers, [topic])}

    def bronze(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        before = versions_before(session, [BRONZE_AUDIT], lake_root=lake_root)
        job = product_bronze(
            PRODUCT,
            topic=topic.name,
            table=BRONZE_AUDIT,
            bootstrap_servers=bootstrap_servers,
            lake_root=lake_root,
        )
        records = run_bronze_ingestion(session, job)
        written = written_since(session, [BRONZE_AUDIT], before, lake_root=lake_root)
        return {
            "records": records,
            "rows_read": {f"{KAFKA_UPSTREAM}{topic.name}": records},
            **written.outputs(),
        }

    def silver(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        writes = [SILVER_AUDIT_TRAIL, SILVER_CHAIN_ROOTS, QUARANTINE_AUDIT]
        before = versions_before(session, writes, lake_root=lake_root)
        run = run_silver(session, lake_root=lake_root)
        written = written_since(session, writes, before, lake_root=lake_root)
        name = QUARANTINE_AUDIT.qualified_name
        quarantined = quarantined_by_rule(
            session, QUARANTINE_AUDIT, before.get(name), written.delta_versions.get(name), lake_root=lake_root
        )
        return {
            "batches": run.batches,
            "rows_read": {BRONZE_AUDIT.qualified_name: run.input_rows},
            **written.outputs(),
            "rows_quarantined": quarantined,
        }

    def gold_step(
        table: TableSpec, run: Callable[[SparkSession], IncrementalRun]
    ) -> Callable[[RunContext], Mapping[str, Any]]:
        def step(_: RunContext) -> Mapping[str, Any]:
            session = spark()
            before = versions_before(session, [table], lake_root=lake_root)
            done = run(session)
            written = written_since(session, [table], before, lake_root=lake_root)
            return {
                "batches": done.batches,
                "rows_read": {SILVER_AUDIT_TRAIL.qualified_name: done.input_rows},
                **written.outputs(),
            }

        return step

    accesses = gold_step(GOLD_ACCESSES_DAILY, partial(run_accesses, lake_root=lake_root))
    key_reads = gold_step(
        GOLD_KEY_READS_DAILY, partial(run_key_reads, config=config.unusual_access, lake_root=lake_root)
    )

    def erasure(_: RunContext) -> Mapping[str, Any]:
        run = execute_erasures(
            spark(), catalogued(), config, lake_root=lake_root, bootstrap_servers=bootstrap_servers
        )
        return {"requests": run.executed, "completed": run.completed, "failed": run.failed}

    def reapply(_: RunContext) -> Mapping[str, Any]:
        done = reapply_erasures(spark(), catalogued(), lake_root=lake_root)
        return {"restores": done.restores, "tables": done.tables, "rows_deleted": done.rows_deleted}

    def access(_: RunContext) -> Mapping[str, Any]:
        run = execute_access_requests(spark(), catalogued(), lake_root=lake_root)
        return {"requests": run.executed, "completed": run.completed, "failed": run.failed}

    def retention(_: RunContext) -> Mapping[str, Any]:
        outcome = enforce_retention(spark(), catalogued())
        store_retention_runs(lake_root, outcome.runs)
        return {
            "tables_checked": len(outcome.runs),
            "rows_deleted": outcome.rows_deleted,
            "delta_versions": outcome.delta_versions,
        }

    return Pipeline(
        PRODUCT,
        [
            Task("topics", topics),
            Task("bronze", bronze, depends_on=("topics",), writes=(BRONZE_AUDIT,)),
            Task(
                "silver",
                silver,
                depends_on=("bronze",),
                writes=(SILVER_AUDIT_TRAIL, SILVER_CHAIN_ROOTS, QUARANTINE_AUDIT),
            ),
            Task("accesses_daily", accesses, depends_on=("silver",), writes=(GOLD_ACCESSES_DAILY,)),
            Task("key_reads_daily", key_reads, depends_on=("silver",), writes=(GOLD_KEY_READS_DAILY,)),
            Task(
                "erasure",
                erasure,
                retries=0,
                writes=(SILVER_ERASURE_REQUESTS, GOLD_ERASURE_CERTIFICATES, SILVER_ERASED_SUBJECTS),
            ),
            Task("reapply_erasures", reapply, depends_on=("erasure",), retries=0),
            Task("access", access, depends_on=("erasure",), retries=0, writes=(SILVER_ACCESS_REQUESTS,)),
            Task("retention", retention, depends_on=("erasure",), writes=(GOLD_RETENTION_RUNS,)),
        ],
    )


@dataclass(frozen=True)
class ComplianceAuditingProduct:
    """The product's declaration: what the catalog lists and what the platform runs."""

    name: str = PRODUCT
    description: str = "a tamper-evident audit trail and proven erasure across every table and its history."
    tables: tuple[TableSpec, ...] = TABLES
    load_config: Callable[[], ComplianceConfig] = field(default=load_compliance_config)
    schema_record: Path | None = SOURCE_CONFIG_DIR / "schemas.json"

    def product_assets(self, settings: LakehouseSettings, catalog: Catalog) -> ProductAssets:
        """The pipeline, erasing across the tables of ``catalog``."""
        pipeline = build_pipeline(
            self.load_config(),
            spark=spark_session,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            lake_root=settings.lake_root,
            catalog=lambda: catalog,
        )
        return ProductAssets(pipeline)

    def serving_app(self, settings: LakehouseSettings) -> FastAPI:
        """The product's REST API over the lake of ``settings`` (what ``compliance-auditing api`` serves)."""
        from compliance_auditing.serving.app import create_app

        return create_app(self.load_config(), lake_root=settings.lake_root)


COMPLIANCE_AUDITING = ComplianceAuditingProduct()
