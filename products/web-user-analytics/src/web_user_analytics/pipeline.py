"""The product's task graph, handed to the platform orchestrator:
topics → bronze (Kafka → Delta) → silver → gold."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_platform.orchestrator import Pipeline, RunContext, Task
from web_user_analytics import PRODUCT
from web_user_analytics.config import WebConfig
from web_user_analytics.ingestion.bronze_job import run_bronze
from web_user_analytics.processing.gold_job import run_gold
from web_user_analytics.processing.silver_job import run_silver

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

STEPS = ("topics", "bronze", "silver", "gold")


def topic_specs(config: WebConfig) -> list[TopicSpec]:
    return [
        TopicSpec(
            t.name,
            partitions=t.partitions,
            config={"retention.ms": str(t.retention_ms)} if t.retention_ms else {},
        )
        for t in config.topics.values()
    ]


def build_pipeline(
    config: WebConfig,
    *,
    spark: Callable[[], SparkSession],
    bootstrap_servers: str,
    lake_root: str,
) -> Pipeline:
    """``spark`` is called when a Spark step first runs, so the topics step needs no JVM."""

    def topics(_: RunContext) -> Mapping[str, Any]:
        return {"created": ensure_topics(bootstrap_servers, topic_specs(config))}

    def bronze(_: RunContext) -> Mapping[str, Any]:
        return {
            "records": run_bronze(spark(), config, bootstrap_servers=bootstrap_servers, lake_root=lake_root)
        }

    def silver(_: RunContext) -> Mapping[str, Any]:
        run = run_silver(spark(), config, lake_root=lake_root)
        return {"bronze_rows_read": run.input_rows, "batches": run.batches}

    def gold(_: RunContext) -> Mapping[str, Any]:
        run = run_gold(spark(), config, lake_root=lake_root)
        return {"session_changes_read": run.input_rows, "batches": run.batches}

    return Pipeline(
        PRODUCT,
        [
            Task("topics", topics),
            Task("bronze", bronze, depends_on=("topics",)),
            Task("silver", silver, depends_on=("bronze",)),
            Task("gold", gold, depends_on=("silver",)),
        ],
    )
