"""Kafka → bronze with Spark Structured Streaming: the raw payload plus where it came from.

Exactly-once: the Delta sink commits each micro-batch together with its Kafka offsets in the
query's checkpoint, so a job killed mid-batch and restarted neither loses nor repeats records.
By default the job drains what is available and stops (``availableNow``); ``continuous`` keeps
it running with a processing-time trigger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from lakehouse_core.contracts import spark_schema
from lakehouse_core.delta import ensure_table
from lakehouse_core.incremental import await_query
from lakehouse_core.kafka.spark_source import kafka_source_options
from lakehouse_core.metrics import serve_stream_metrics
from lakehouse_core.privacy import SUBJECT_KEY_COLUMN, platform_subject_key, subject_key_of_json
from lakehouse_core.tables import (
    LAYER_FRESHNESS,
    RAW_RETENTION_DAYS,
    ConfiguredTopic,
    Layer,
    Retention,
    SubjectKind,
    TableSpec,
    checkpoint_location,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery


class BronzeRecord(BaseModel):
    """Bronze: one Kafka record as it arrived. Append-only; never rewritten."""

    key: str | None
    value: str = Field(
        description="The raw payload decoded as UTF-8; bytes that are not UTF-8 become U+FFFD "
        "(Arrow readers refuse invalid UTF-8; the original bytes stay in Kafka at topic/partition/offset)."
    )
    topic: str
    partition: int
    offset: int
    kafka_timestamp: datetime
    ingested_at: datetime
    ingest_date: date = Field(description="UTC date of ingestion; the partition column.")
    subject_key: str | None = Field(
        default=None,
        description="The person's subject key: HMAC of the payload's userId with the platform key "
        "(LAKEHOUSE_SUBJECT_KEY); null when the payload has no userId or is not JSON.",
    )


BRONZE_SCHEMA = spark_schema(BronzeRecord)


def bronze_table(product: str, name: str = "events") -> TableSpec:
    """The bronze table of the product's topic ``topics.<name>``. The raw payload may hold
    anything a producer sent, and the key is the id as sent, so both are subject columns, with
    the subject key computed at ingest."""
    return TableSpec(
        name=name,
        layer=Layer.BRONZE,
        product=product,
        schema=BRONZE_SCHEMA,
        partition_by=("ingest_date",),
        description="Raw Kafka records with topic, partition, offset and ingestion time.",
        contract=BronzeRecord,
        subject_columns={
            "key": SubjectKind.USER_ID,
            "value": SubjectKind.FREE_TEXT,
            SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY,
        },
        retention=Retention(RAW_RETENTION_DAYS, "ingest_date"),
        freshness=LAYER_FRESHNESS[Layer.BRONZE],
        upstream=(ConfiguredTopic(name),),
    )


def to_bronze(kafka_records: DataFrame, *, subject_key: bytes) -> DataFrame:
    """Kafka source rows → bronze rows (pure); ``subject_key`` is the platform key."""
    from pyspark.sql import functions as F

    ingested_at = F.current_timestamp()
    value = F.make_valid_utf8(F.col("value").cast("string"))
    return kafka_records.select(
        F.make_valid_utf8(F.col("key").cast("string")).alias("key"),
        value.alias("value"),
        F.col("topic"),
        F.col("partition").cast("long").alias("partition"),
        F.col("offset").cast("long").alias("offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        ingested_at.alias("ingested_at"),
        F.to_date(ingested_at).alias("ingest_date"),
        subject_key_of_json(value, subject_key).alias(SUBJECT_KEY_COLUMN),
    )


@dataclass(frozen=True, kw_only=True)
class BronzeIngestion:
    bootstrap_servers: str
    topics: tuple[str, ...]
    table: TableSpec
    lake_root: str
    checkpoint: str
    max_offsets_per_trigger: int | None = None
    subject_key: bytes = field(default_factory=platform_subject_key, repr=False)
    """The platform key of the rows' subject key; by default from ``LAKEHOUSE_SUBJECT_KEY``."""


def product_bronze(
    product: str, *, topic: str, table: TableSpec, bootstrap_servers: str, lake_root: str
) -> BronzeIngestion:
    """A product's Kafka → bronze job: its events topic into its bronze table, checkpointed
    next to the lake under the product's name."""
    return BronzeIngestion(
        bootstrap_servers=bootstrap_servers,
        topics=(topic,),
        table=table,
        lake_root=lake_root,
        checkpoint=checkpoint_location(lake_root, product, "bronze"),
    )


def start_bronze_stream(
    spark: SparkSession,
    job: BronzeIngestion,
    *,
    continuous: bool = False,
    trigger_seconds: float = 10.0,
) -> StreamingQuery:
    """Start the Kafka → bronze query; with ``continuous=False`` it stops once drained. A
    continuous query's lag is served at ``/metrics`` when ``LAKEHOUSE_STREAM_METRICS_PORT`` is set
    (:func:`~lakehouse_core.metrics.serve_stream_metrics`)."""
    ensure_table(spark, job.table, lake_root=job.lake_root)
    source = (
        spark.readStream.format("kafka")
        .options(
            **kafka_source_options(
                job.bootstrap_servers,
                job.topics,
                max_offsets_per_trigger=job.max_offsets_per_trigger,
            )
        )
        .load()
    )
    writer = (
        to_bronze(source, subject_key=job.subject_key)
        .writeStream.format("delta")
        .outputMode("append")
        .option("checkpointLocation", job.checkpoint)
        .queryName(f"bronze-{job.table.product}-{job.table.name}")
    )
    if continuous:
        writer = writer.trigger(processingTime=f"{trigger_seconds} seconds")
        serve_stream_metrics(spark.streams)
    else:
        writer = writer.trigger(availableNow=True)
    return writer.start(job.table.location(job.lake_root))


def run_bronze_ingestion(spark: SparkSession, job: BronzeIngestion) -> int:
    """Drain the topics into bronze and return how many records this run appended."""
    query = start_bronze_stream(spark, job)
    await_query(query, f"bronze ingestion into {job.table.qualified_name}")
    return sum(int(p.get("numInputRows", 0)) for p in query.recentProgress)
