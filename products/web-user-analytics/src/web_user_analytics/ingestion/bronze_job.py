"""Kafka → bronze for web events: the shared ingestion job on this product's topic and table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakehouse_core.ingestion.bronze import BronzeIngestion, run_bronze_ingestion, start_bronze_stream
from lakehouse_core.tables import checkpoint_location
from web_user_analytics import PRODUCT
from web_user_analytics.config import WebConfig
from web_user_analytics.storage.tables import BRONZE_EVENTS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def bronze_ingestion(config: WebConfig, *, bootstrap_servers: str, lake_root: str) -> BronzeIngestion:
    return BronzeIngestion(
        bootstrap_servers=bootstrap_servers,
        topics=(config.topics["events"].name,),
        table=BRONZE_EVENTS,
        lake_root=lake_root,
        checkpoint=checkpoint_location(lake_root, PRODUCT, "bronze"),
    )


def run_bronze(spark: SparkSession, config: WebConfig, *, bootstrap_servers: str, lake_root: str) -> int:
    """Drain the events topic into bronze; returns the records appended by this run."""
    return run_bronze_ingestion(
        spark, bronze_ingestion(config, bootstrap_servers=bootstrap_servers, lake_root=lake_root)
    )


def run_bronze_continuously(
    spark: SparkSession, config: WebConfig, *, bootstrap_servers: str, lake_root: str, trigger_seconds: float
) -> None:
    job = bronze_ingestion(config, bootstrap_servers=bootstrap_servers, lake_root=lake_root)
    start_bronze_stream(spark, job, continuous=True, trigger_seconds=trigger_seconds).awaitTermination()
