"""Topic administration: create topics idempotently and wait for the broker to answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from lakehouse_core.errors import KafkaError


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 3
    replication_factor: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


def admin_client(bootstrap_servers: str, *, quiet: bool = False) -> AdminClient:
    """An admin client; ``quiet`` silences librdkafka's connection logs (for probes that
    expect the broker may be down)."""
    config: dict[str, str | int | float | bool] = {"bootstrap.servers": bootstrap_servers}
    if quiet:
        config["log_level"] = 0
    return AdminClient(config)


def broker_answers(bootstrap_servers: str, *, timeout: float = 2.0) -> bool:
    """Whether a broker at ``bootstrap_servers`` returns cluster metadata within ``timeout``."""
    try:
        metadata = admin_client(bootstrap_servers, quiet=True).list_topics(timeout=timeout)
    except KafkaException:
        return False
    return bool(metadata.brokers)


def list_topics(bootstrap_servers: str, *, timeout: float = 10.0) -> set[str]:
    try:
        metadata = admin_client(bootstrap_servers).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaError(f"cannot list topics at {bootstrap_servers}: {exc}") from exc
    return {name for name in metadata.topics if not name.startswith("__")}


def ensure_topics(bootstrap_servers: str, topics: Iterable[TopicSpec], *, timeout: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; returns the names created now."""
    wanted = {t.name: t for t in topics}
    missing = [t for name, t in wanted.items() if name not in list_topics(bootstrap_servers)]
    if not missing:
        return []
    admin = admin_client(bootstrap_servers)  # must outlive its futures
    futures = admin.create_topics(
        [
            NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replication_factor,
                config=dict(t.config),
            )
            for t in missing
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != ConfluentKafkaError.TOPIC_ALREADY_EXISTS:
                raise KafkaError(f"cannot create topic {name}: {exc}") from exc
    return created


def partition_watermarks(
    bootstrap_servers: str, topic: str, *, timeout: float = 10.0
) -> dict[int, tuple[int, int]]:
    """Per partition of the topic: (low, high) watermarks, the earliest offset still held
    (retention deletes older records) and the offset the next record will get."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"watermarks-{topic}"})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise KafkaError(f"topic {topic} is not available at {bootstrap_servers}")
        return {
            partition: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            for partition in sorted(metadata.partitions)
        }
    except KafkaException as exc:
        raise KafkaError(f"cannot read offsets of {topic}: {exc}") from exc
    finally:
        consumer.close()


def topic_record_count(bootstrap_servers: str, topic: str, *, timeout: float = 10.0) -> int:
    """Records currently in the topic: the sum over partitions of high minus low watermark.
    Records deleted by retention are not counted; to compare with what was ingested, use
    :func:`lakehouse_events.reconciliation.reconcile`."""
    return sum(
        high - low for low, high in partition_watermarks(bootstrap_servers, topic, timeout=timeout).values()
    )


@dataclass(frozen=True)
class TopicRetention:
    """How long a topic keeps a record: ``retention_ms`` (None: for ever, ``retention.ms=-1``)
    after the segment holding it has rolled, which happens ``segment_ms`` after the segment's
    first record at the latest (or earlier, at ``segment.bytes``)."""

    topic: str
    retention_ms: int | None
    segment_ms: int

    @property
    def longest_kept_ms(self) -> int | None:
        """The longest a record written now can stay readable; None when it is kept for ever."""
        return None if self.retention_ms is None else self.retention_ms + self.segment_ms


def topic_retentions(
    bootstrap_servers: str, topics: Iterable[str], *, timeout: float = 10.0
) -> dict[str, TopicRetention]:
    """The effective ``retention.ms`` and ``segment.ms`` of each of ``topics`` that exists, as
    the broker reports them (topic overrides, else the broker's defaults)."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported without __all__
        ConfigResource,
        ResourceType,
    )

    wanted = sorted(set(topics) & list_topics(bootstrap_servers, timeout=timeout))
    if not wanted:
        return {}
    admin = admin_client(bootstrap_servers)
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in wanted]
    found = {}
    for resource, future in admin.describe_configs(resources, request_timeout=timeout).items():
        try:
            entries = future.result()
        except KafkaException as exc:
            raise KafkaError(f"cannot read the configuration of topic {resource.name}: {exc}") from exc
        retention = int(entries["retention.ms"].value)
        found[resource.name] = TopicRetention(
            resource.name, None if retention < 0 else retention, int(entries["segment.ms"].value)
        )
    return found
