"""Consumer helpers: a consumer built with the platform's defaults and batch consumption."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from confluent_kafka import Consumer, Message
from confluent_kafka import KafkaError as ConfluentKafkaError

from lakehouse_core.errors import KafkaError


def build_consumer(
    bootstrap_servers: str, *, group_id: str, topics: Sequence[str], **config: Any
) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": group_id,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **config,
        }
    )
    consumer.subscribe(list(topics))
    return consumer


def consume_batches(
    consumer: Consumer,
    *,
    batch_size: int = 500,
    poll_timeout: float = 1.0,
    idle_timeout: float = 5.0,
    first_message_timeout: float = 30.0,
) -> Iterator[list[Message]]:
    """Yield batches of messages until none arrived for ``idle_timeout`` seconds.

    Joining a consumer group takes a few seconds, so the first message is awaited for up to
    ``first_message_timeout`` before the idle window applies. Partition-end events are
    skipped; any other broker error is raised.
    """
    last_message = time.monotonic()
    window = first_message_timeout
    while time.monotonic() - last_message < window:
        batch = []
        for message in consumer.consume(num_messages=batch_size, timeout=poll_timeout):
            error = message.error()
            if error is None:
                batch.append(message)
            elif error.code() != ConfluentKafkaError._PARTITION_EOF:
                raise KafkaError(f"consume failed: {error.str()}")
        if batch:
            last_message = time.monotonic()
            window = idle_timeout
            yield batch
