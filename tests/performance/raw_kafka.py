"""Bare confluent-kafka clients: the ceilings the platform's own Kafka paths are compared with.

The producer uses the platform's producer settings (idempotent, acks=all, lz4, linger 5 ms) but
none of its code: ``produce`` in a loop, ``poll`` now and then, ``flush`` at the end. The
consumer assigns every partition from the beginning (no group join) and consumes in batches.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from lakehouse_core.kafka.producer import PRODUCER_DEFAULTS


def bare_producer(bootstrap: str, topic: str, values: Sequence[bytes], keys: Sequence[bytes]) -> float:
    """Events/s until every event is acknowledged by the broker. One warm-up event, sent and
    acknowledged before the clock starts, keeps connection set-up out of the figure."""
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    producer.produce(topic, b"warm-up")
    producer.flush(60)
    failures: list[str] = []

    def on_delivery(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(str(error))

    started = time.perf_counter()
    for i, (value, key) in enumerate(zip(values, keys, strict=True)):
        while True:
            try:
                producer.produce(topic, value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} deliveries failed, e.g. {failures[0]}")
    return len(values) / elapsed


def partition_count(bootstrap: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-metadata"})
    try:
        return len(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
    finally:
        consumer.close()


def bare_consumer(bootstrap: str, topic: str, records: int) -> float:
    """Events/s reading ``topic`` from the start in batches of 10 000 until ``records`` arrived."""
    partitions = partition_count(bootstrap, topic)
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bare-{time.time_ns()}", "enable.auto.commit": False}
    )
    started = time.perf_counter()
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    seen = 0
    try:
        while seen < records:
            seen += sum(1 for m in consumer.consume(num_messages=10_000, timeout=1.0) if m.error() is None)
            if time.perf_counter() - started > 300:
                raise RuntimeError(f"only {seen} of {records} records consumed in 300 s")
        return seen / (time.perf_counter() - started)
    finally:
        consumer.close()
