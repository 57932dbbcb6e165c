"""What ``lakehouse topics`` shows: a topic's partitions, offsets and configuration.

Topics are never created on first produce (the broker runs with auto-creation off, so a typo
in a topic name fails loudly); ``lakehouse topics create`` is the way to make one by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import ConfigResource, ResourceType  # type: ignore[attr-defined]

from lakehouse_core.errors import KafkaError
from lakehouse_core.kafka.admin import admin_client


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    leader: int
    low: int
    high: int

    @property
    def records(self) -> int:
        return self.high - self.low


@dataclass(frozen=True)
class TopicDescription:
    name: str
    partitions: tuple[PartitionOffsets, ...]
    config: dict[str, str]

    @property
    def records(self) -> int:
        return sum(p.records for p in self.partitions)


def describe_topic(bootstrap_servers: str, name: str, *, timeout: float = 10.0) -> TopicDescription:
    """Partitions with their leader and low/high offsets, and the topic's non-default config."""
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"lakehouse-describe-{name}"})
    try:
        metadata = consumer.list_topics(name, timeout=timeout).topics.get(name)
        if metadata is None or metadata.error is not None:
            raise KafkaError(f"topic {name} does not exist at {bootstrap_servers}")
        partitions = []
        for number, info in sorted(metadata.partitions.items()):
            low, high = consumer.get_watermark_offsets(TopicPartition(name, number), timeout=timeout)
            partitions.append(PartitionOffsets(number, info.leader, low, high))
        resource = ConfigResource(ResourceType.TOPIC, name)
        admin = admin_client(bootstrap_servers)  # must outlive its future
        entries = admin.describe_configs([resource])[resource].result(timeout)
    except KafkaException as exc:
        raise KafkaError(f"cannot describe topic {name} at {bootstrap_servers}: {exc}") from exc
    finally:
        consumer.close()
    config = {key: str(entry.value) for key, entry in entries.items() if not entry.is_default}
    return TopicDescription(name, tuple(partitions), config)
