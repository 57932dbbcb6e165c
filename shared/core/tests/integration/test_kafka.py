"""Kafka connectors against a real broker (the ``kafka_broker`` fixture)."""

import json

import pytest
from pyspark.sql import SparkSession

from lakehouse_core.errors import DeliveryError
from lakehouse_core.kafka.admin import TopicSpec, broker_answers, ensure_topics, list_topics, topic_retentions
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_core.kafka.spark_source import kafka_source_options
from lakehouse_testing.plugin import KafkaFixture, free_port

pytestmark = pytest.mark.integration


def test_ensure_topics_is_idempotent(kafka_broker: KafkaFixture, unique_topic: str) -> None:
    spec = TopicSpec(unique_topic, partitions=2)
    assert ensure_topics(kafka_broker.bootstrap_servers, [spec]) == [unique_topic]
    assert ensure_topics(kafka_broker.bootstrap_servers, [spec]) == []
    assert unique_topic in list_topics(kafka_broker.bootstrap_servers)


def test_topic_retention_is_read_from_the_broker(kafka_broker: KafkaFixture, unique_topic: str) -> None:
    day, hour = 86_400_000, 3_600_000
    kept_for_ever = f"{unique_topic}-forever"
    ensure_topics(
        kafka_broker.bootstrap_servers,
        [
            TopicSpec(unique_topic, partitions=1, config={"retention.ms": str(day), "segment.ms": str(hour)}),
            TopicSpec(kept_for_ever, partitions=1, config={"retention.ms": "-1"}),
        ],
    )

    found = topic_retentions(kafka_broker.bootstrap_servers, [unique_topic, kept_for_ever, "no-such-topic"])

    assert set(found) == {unique_topic, kept_for_ever}
    assert (found[unique_topic].retention_ms, found[unique_topic].longest_kept_ms) == (day, day + hour)
    assert found[kept_for_ever].retention_ms is None
    assert found[kept_for_ever].longest_kept_ms is None
    assert found[kept_for_ever].segment_ms > 0


def test_produced_messages_are_acknowledged_and_consumed_in_batches(
    kafka_broker: KafkaFixture, unique_topic: str
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic, partitions=3)])
    messages = [
        OutgoingMessage(unique_topic, json.dumps({"n": i}).encode(), key=f"user-{i % 5}".encode())
        for i in range(200)
    ]
    with EventProducer(bootstrap) as producer:
        delivered = producer.send_all(messages)
    assert len(delivered) == 200
    assert {d.partition for d in delivered} <= {0, 1, 2}

    consumer = build_consumer(bootstrap, group_id=f"g-{unique_topic}", topics=[unique_topic])
    try:
        seen = [
            json.loads(m.value())["n"] for batch in consume_batches(consumer, idle_timeout=3) for m in batch
        ]
    finally:
        consumer.close()
    assert sorted(seen) == list(range(200))


def test_one_key_stays_in_one_partition_in_order(kafka_broker: KafkaFixture, unique_topic: str) -> None:
    ensure_topics(kafka_broker.bootstrap_servers, [TopicSpec(unique_topic, partitions=3)])
    with EventProducer(kafka_broker.bootstrap_servers) as producer:
        delivered = producer.send_all(
            OutgoingMessage(unique_topic, str(i).encode(), key=b"user-1") for i in range(50)
        )
    assert len({d.partition for d in delivered}) == 1
    assert [d.offset for d in delivered] == sorted(d.offset for d in delivered)


def test_undeliverable_messages_raise_with_counts() -> None:
    dead = f"127.0.0.1:{free_port()}"
    assert not broker_answers(dead, timeout=0.5)
    with (
        EventProducer(dead, **{"message.timeout.ms": 1500}) as producer,
        pytest.raises(DeliveryError, match="3 of 3 messages not delivered") as error,
    ):
        producer.send_all([OutgoingMessage("t", b"x")] * 3, timeout=10)
    assert (error.value.failed, error.value.total) == (3, 3)


def test_spark_reads_the_topic_with_the_shared_options(
    spark: SparkSession, kafka_broker: KafkaFixture, unique_topic: str
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic, partitions=2)])
    with EventProducer(bootstrap) as producer:
        producer.send_all(OutgoingMessage(unique_topic, f"v{i}".encode(), key=b"k") for i in range(25))
    frame = spark.read.format("kafka").options(**kafka_source_options(bootstrap, [unique_topic])).load()
    values = sorted(r.value.decode() for r in frame.select("value").collect())
    assert values == sorted(f"v{i}" for i in range(25))
