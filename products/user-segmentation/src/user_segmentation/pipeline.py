"""user-segmentation as the platform runs it: its declaration (found through the
``lakehouse.products`` entry point) and its task graph, topics → identity and operational →
features → segments → clusters. It reads web's and mobile's silver tables by their catalog
names, never by import; the operational sources (the database's change events, the payments
API) it lands itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import TableSpec
from lakehouse_platform.catalog import Catalog, ProductAssets, load_catalog
from lakehouse_platform.orchestrator import Pipeline, RunContext, Task
from lakehouse_platform.task_reports import versions_before, written_since
from user_segmentation import PRODUCT
from user_segmentation.config import SOURCE_CONFIG_DIR, SegmentationConfig, load_segmentation_config
from user_segmentation.processing.jobs import (
    Inputs,
    Publisher,
    kafka_publisher,
    run_clusters,
    run_features,
    run_identity,
    run_segments,
)
from user_segmentation.processing.operational_jobs import run_operational
from user_segmentation.storage.tables import (
    CLUSTER_PROFILES,
    IDENTITY_EDGES,
    MODEL_RUNS,
    OPERATIONAL_TABLES,
    PERSON_FEATURES,
    PERSON_NODES,
    SEGMENT_MEMBERSHIPS,
    SEGMENT_SIZES,
    TABLES,
)

if TYPE_CHECKING:
    from fastapi import FastAPI
    from pyspark.sql import SparkSession

SparkProvider = Callable[[], "SparkSession"]


@cache
def spark_session() -> SparkSession:
    """The product's Spark session, one per process (built when a Spark step first runs)."""
    from lakehouse_core.spark import build_spark_session

    return build_spark_session(PRODUCT, settings=LakehouseSettings())


def yesterday() -> date:
    """The last complete UTC day: the default ``as_of`` of a daily run."""
    return datetime.now(tz=UTC).date() - timedelta(days=1)


def membership_topic(config: SegmentationConfig) -> TopicSpec:
    configured = config.topics["membership"]
    return TopicSpec(
        configured.name,
        partitions=configured.partitions,
        config={"retention.ms": str(configured.retention_ms)} if configured.retention_ms else {},
    )


def _read(inputs: Inputs) -> dict[str, Any]:
    return {
        "rows_read": dict(inputs.rows),
        **({"missing_inputs": dict(inputs.missing)} if inputs.missing else {}),
    }


def build_pipeline(
    config: SegmentationConfig,
    *,
    spark: SparkProvider,
    bootstrap_servers: str,
    lake_root: str,
    catalog: Callable[[], Catalog] | None = None,
    as_of: Callable[[], date] = yesterday,
    first_day: date | None = None,
    publish: Publisher | None = None,
    settings: LakehouseSettings | None = None,
) -> Pipeline:
    """The product's task graph. ``catalog`` locates the input tables (by default every installed
    product's); ``as_of`` is the last day to compute (default yesterday, UTC); on an empty lake
    the features start at ``first_day`` (default ``as_of``); ``publish`` sends the membership
    changes (default: to Kafka at ``bootstrap_servers``); ``settings`` locate the stack's
    PostgreSQL and Kafka Connect for the operational sources (default from the environment)."""
    catalogued = catalog or partial(load_catalog, lake_root=lake_root)
    platform = settings or LakehouseSettings()
    topic = membership_topic(config)
    send = publish or kafka_publisher(bootstrap_servers)

    def topics(_: RunContext) -> Mapping[str, Any]:
        return {"created": ensure_topics(bootstrap_servers, [topic])}

    def identity(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        writes = [IDENTITY_EDGES, PERSON_NODES]
        before = versions_before(session, writes, lake_root=lake_root)
        run = run_identity(session, config, catalogued(), lake_root=lake_root, as_of=as_of())
        written = written_since(session, writes, before, lake_root=lake_root)
        return {
            "edges": run.edges,
            "refused_edges": run.refused_edges,
            "nodes": run.nodes,
            "persons": run.persons,
            "moved_nodes": run.moved_nodes,
            **_read(run.inputs),
            **written.outputs(),
        }

    def operational(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        before = versions_before(session, list(OPERATIONAL_TABLES), lake_root=lake_root)
        run = run_operational(
            session, config.operational, platform, lake_root=lake_root, bootstrap_servers=bootstrap_servers
        )
        written = written_since(session, list(OPERATIONAL_TABLES), before, lake_root=lake_root)
        return {
            "bronze_rows": run.bronze_rows,
            "changes_applied": run.applied,
            "payments": run.payments,
            "payments_landed": run.payments_landed,
            "payments_quarantined": run.payments_quarantined,
            **({"missing_inputs": run.missing} if run.missing else {}),
            **written.outputs(),
        }

    def features(_: RunContext) -> Mapping[str, Any]:
        session = spark()
        before = versions_before(session, [PERSON_FEATURES], lake_root=lake_root)
        run = run_features(
            session, config, catalogued(), lake_root=lake_root, as_of=as_of(), first_day=first_day
        )
        written = written_since(session, [PERSON_FEATURES], before, lake_root=lake_root)
        return {
            "days": [d.isoformat() for d in run.days],
            **({"recomputed": run.recomputed.isoformat()} if run.recomputed else {}),
            **_read(run.inputs),
            **written.outputs(),
        }

    def segments(_: RunContext) -> Mapping[str, Any]:
        """Rule segments, then the k-means clusters: one task, because both write the
        membership history (one table has one writer in the asset graph)."""
        session = spark()
        writes = [SEGMENT_MEMBERSHIPS, SEGMENT_SIZES, MODEL_RUNS, CLUSTER_PROFILES]
        before = versions_before(session, writes, lake_root=lake_root)
        rules = run_segments(session, config, lake_root=lake_root, topic=topic.name, publish=send)
        clusters = run_clusters(session, config, lake_root=lake_root, topic=topic.name, publish=send)
        written = written_since(session, writes, before, lake_root=lake_root)
        skipped = {d.isoformat(): why for d, why in clusters.skipped.items()}
        return {
            "days": [d.isoformat() for d in rules.days],
            "entered": rules.entered + clusters.entered,
            "exited": rules.exited + clusters.exited,
            "published": {topic.name: rules.published + clusters.entered + clusters.exited},
            "models": {d.isoformat(): v for d, v in clusters.models.items()},
            "chosen_k": {d.isoformat(): k for d, k in clusters.chosen_k.items()},
            **({"skipped": skipped} if skipped else {}),
            **written.outputs(),
        }

    return Pipeline(
        PRODUCT,
        [
            Task("topics", topics),
            Task("identity", identity, depends_on=("topics",), writes=(IDENTITY_EDGES, PERSON_NODES)),
            Task("operational", operational, depends_on=("topics",), writes=OPERATIONAL_TABLES),
            Task("features", features, depends_on=("identity", "operational"), writes=(PERSON_FEATURES,)),
            Task(
                "segments",
                segments,
                depends_on=("features",),
                writes=(SEGMENT_MEMBERSHIPS, SEGMENT_SIZES, MODEL_RUNS, CLUSTER_PROFILES),
            ),
        ],
    )


@dataclass(frozen=True)
class UserSegmentationProduct:
    """The product's declaration: what the catalog lists and what the platform runs."""

    name: str = PRODUCT
    description: str = (
        "one person across web and mobile, behavioural features, rule and k-means segments with history."
    )
    tables: tuple[TableSpec, ...] = TABLES
    load_config: Callable[[], SegmentationConfig] = field(default=load_segmentation_config)
    schema_record: Path | None = SOURCE_CONFIG_DIR / "schemas.json"

    def product_assets(self, settings: LakehouseSettings, catalog: Catalog) -> ProductAssets:
        """The pipeline, reading web's and mobile's tables at their locations in ``catalog``."""
        pipeline = build_pipeline(
            self.load_config(),
            spark=spark_session,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            lake_root=settings.lake_root,
            catalog=lambda: catalog,
            settings=settings,
        )
        return ProductAssets(pipeline)

    def serving_app(self, settings: LakehouseSettings) -> FastAPI:
        """The product's REST API over the lake of ``settings`` (what ``user-segmentation api`` serves)."""
        from user_segmentation.serving.app import create_app

        return create_app(self.load_config(), lake_root=settings.lake_root)


USER_SEGMENTATION = UserSegmentationProduct()
