"""The smoke pipeline: one pass through every real component of the platform.

Events are produced to Kafka with the idempotent producer, read back by Spark's Kafka source,
parsed with their contract, appended once to a Delta table, and read again through delta-rs.
The run succeeds only if every event produced arrives, exactly once, identical in both engines.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

from lakehouse_core.contracts import spark_schema
from lakehouse_core.delta import Transaction, append
from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_core.kafka.spark_source import kafka_source_options
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.spark import build_spark_session
from lakehouse_core.tables import Layer, TableSpec

TOPIC = "platform.smoke.v1"


class SmokeEvent(BaseModel):
    event_id: str
    run_id: str
    sequence: int
    emitted_at: datetime


SMOKE_TABLE = TableSpec(
    name="smoke_events",
    layer=Layer.BRONZE,
    product="platform",
    schema=spark_schema(SmokeEvent),
    partition_by=("run_id",),
    description="Events of smoke pipeline runs, one partition per run.",
)


@dataclass(frozen=True)
class SmokeReport:
    run_id: str
    produced: int
    written: int
    read_back: int
    identical: bool
    table_location: str

    @property
    def ok(self) -> bool:
        return self.produced == self.written == self.read_back and self.identical


def run_smoke(settings: LakehouseSettings, *, events: int = 1000) -> SmokeReport:
    from pyspark.sql import functions as F

    run_id = uuid.uuid4().hex[:12]
    bootstrap = settings.kafka_bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(TOPIC, partitions=3)])
    now = datetime.now(UTC)
    sent = [
        SmokeEvent(event_id=f"{run_id}-{i}", run_id=run_id, sequence=i, emitted_at=now) for i in range(events)
    ]
    with EventProducer(bootstrap) as producer:
        producer.send_all(
            OutgoingMessage(TOPIC, e.model_dump_json().encode(), key=e.event_id.encode()) for e in sent
        )

    spark = build_spark_session("platform-smoke", settings=settings)
    raw = spark.read.format("kafka").options(**kafka_source_options(bootstrap, [TOPIC])).load()
    parsed = (
        raw.select(F.from_json(F.col("value").cast("string"), SMOKE_TABLE.schema).alias("e"))
        .select("e.*")
        .filter(F.col("run_id") == run_id)
    )
    append(parsed, SMOKE_TABLE, lake_root=settings.lake_root, transaction=Transaction(f"smoke-{run_id}", 0))

    import pyarrow.compute as pc

    location = SMOKE_TABLE.location(settings.lake_root)
    written = spark.read.format("delta").load(location).filter(F.col("run_id") == run_id)
    spark_rows = sorted((r.event_id, r.sequence) for r in written.select("event_id", "sequence").collect())
    arrow = read_arrow(location, columns=["event_id", "sequence"], filter=pc.field("run_id") == run_id)
    arrow_rows = sorted(zip(arrow["event_id"].to_pylist(), arrow["sequence"].to_pylist(), strict=True))
    expected = sorted((e.event_id, e.sequence) for e in sent)
    return SmokeReport(
        run_id=run_id,
        produced=len(sent),
        written=len(spark_rows),
        read_back=len(arrow_rows),
        identical=spark_rows == arrow_rows == expected,
        table_location=location,
    )
