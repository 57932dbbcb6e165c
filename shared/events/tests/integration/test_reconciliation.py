"""Reconciliation against a real broker whose oldest records were deleted after bronze ingested
them (as retention does), with bronze, silver and quarantine written by delta-rs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from confluent_kafka import TopicPartition
from pydantic import BaseModel

from lakehouse_core.contracts import spark_schema
from lakehouse_core.ingestion.bronze import BronzeRecord, bronze_table
from lakehouse_core.kafka.admin import TopicSpec, admin_client, ensure_topics, topic_record_count
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_core.tables import Layer, TableSpec
from lakehouse_events.reconciliation import reconcile
from lakehouse_testing.plugin import KafkaFixture
from lakehouse_testing.serving import write_rows

pytestmark = pytest.mark.integration

AT = datetime(2024, 3, 10, 10, 0, tzinfo=UTC)


class Row(BaseModel):
    event_id: str


def table(layer: Layer, name: str) -> TableSpec:
    return TableSpec(name=name, layer=layer, product="reconciled", schema=spark_schema(Row))


SILVER, QUARANTINE, SESSIONS = (
    table(Layer.SILVER, "events"),
    table(Layer.QUARANTINE, "events"),
    table(Layer.SILVER, "sessions"),
)
BRONZE = bronze_table("reconciled")


def produce(bootstrap: str, topic: str, count: int) -> None:
    with EventProducer(bootstrap) as producer:
        producer.send_all([OutgoingMessage(topic, f'{{"n": {i}}}'.encode()) for i in range(count)])


def ingest(lake_root: str, topic: str, offsets: list[int]) -> None:
    """Bronze rows for ``offsets`` of partition 0, half of them refined, half quarantined."""
    write_rows(
        lake_root,
        BRONZE,
        BronzeRecord,
        *[(None, f'{{"n": {o}}}', topic, 0, o, AT, AT, date(2024, 3, 10), None) for o in offsets],
        mode="append",
    )
    for spec, part in ((SILVER, offsets[::2]), (QUARANTINE, offsets[1::2])):
        write_rows(lake_root, spec, Row, *[(f"e-{o}",) for o in part], mode="append")


def delete_before(bootstrap: str, topic: str, offset: int) -> None:
    admin = admin_client(bootstrap)
    for future in admin.delete_records([TopicPartition(topic, 0, offset)]).values():
        future.result()


def test_a_topic_whose_oldest_records_were_deleted_still_reconciles_and_a_lost_row_does_not(
    kafka_broker: KafkaFixture, unique_topic: str, lake_root: str
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic, partitions=1)])
    produce(bootstrap, unique_topic, 10)
    ingest(lake_root, unique_topic, list(range(10)))

    def counts() -> tuple[int, int, int, int, int, int, bool]:
        r = reconcile(
            topic=unique_topic,
            bronze=BRONZE,
            silver=SILVER,
            quarantine=QUARANTINE,
            sessions=SESSIONS,
            bootstrap_servers=bootstrap,
            lake_root=lake_root,
        )
        return (r.kafka, r.bronze, r.silver + r.quarantine, r.pending, r.missing, r.sessions, r.balanced)

    assert counts() == (10, 10, 10, 0, 0, 0, True)

    delete_before(bootstrap, unique_topic, 6)
    assert topic_record_count(bootstrap, unique_topic) == 4
    assert counts() == (10, 10, 10, 0, 0, 0, True)

    produce(bootstrap, unique_topic, 3)
    assert counts() == (13, 10, 10, 3, 0, 0, False)
    ingest(lake_root, unique_topic, [10, 12])
    assert counts() == (13, 12, 12, 0, 1, 0, False)
