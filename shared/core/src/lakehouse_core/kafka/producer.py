"""An idempotent Kafka producer whose deliveries are futures.

A collector must answer its caller only once the broker has the events, so :meth:`send` returns
a future per message that resolves on the broker's acknowledgement (or fails with the reason).
A background thread serves delivery reports; :meth:`close` flushes what is in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, wait
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka import Message, Producer

from lakehouse_core.errors import DeliveryError, KafkaError
from lakehouse_core.metrics import ProducerMetrics


@dataclass(frozen=True)
class Delivered:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


PRODUCER_DEFAULTS: Mapping[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "compression.type": "lz4",
    "delivery.timeout.ms": 30_000,
}


class EventProducer:
    """With ``metrics``, every delivery report is counted there and its queue depth is read
    from :meth:`__len__`."""

    def __init__(
        self, bootstrap_servers: str, *, metrics: ProducerMetrics | None = None, **config: Any
    ) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap_servers, **PRODUCER_DEFAULTS, **config})
        self.metrics = metrics
        if metrics is not None:
            metrics.watch(self)
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._serve_reports, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _serve_reports(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.05)

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> Future[Delivered]:
        """Queue one message; the future resolves when the broker acknowledges it."""
        future: Future[Delivered] = Future()
        metrics, started = self.metrics, time.perf_counter()

        def on_delivery(error: ConfluentKafkaError | None, message: Message) -> None:
            if metrics is not None:
                metrics.delivery(topic, started, failed=error is not None)
            if error is not None:
                future.set_exception(KafkaError(f"{topic}: {error.str()}"))
            else:
                future.set_result(Delivered(topic, message.partition() or 0, message.offset() or 0))

        while True:
            try:
                self._producer.produce(
                    topic, value=value, key=key, headers=list(headers), on_delivery=on_delivery
                )
                return future
            except BufferError:
                self._producer.poll(0.1)
            except Exception as exc:  # confluent_kafka raises KafkaException for bad topics etc.
                if metrics is not None:
                    metrics.delivery_errors.labels(topic).inc()
                future.set_exception(KafkaError(f"{topic}: {exc}"))
                return future

    def send_all(self, messages: Iterable[OutgoingMessage], *, timeout: float = 30.0) -> list[Delivered]:
        """Send and wait until the broker acknowledged every message, or raise
        :class:`DeliveryError` saying how many it did not take."""
        futures = [self.send(m.topic, m.value, key=m.key, headers=m.headers) for m in messages]
        done, pending = wait(futures, timeout=timeout)
        failures = [f.exception() for f in done if f.exception() is not None]
        if failures or pending:
            reason = str(failures[0]) if failures else f"no acknowledgement within {timeout}s"
            raise DeliveryError(
                f"{len(failures) + len(pending)} of {len(futures)} messages not delivered: {reason}",
                failed=len(failures) + len(pending),
                total=len(futures),
            )
        return [f.result() for f in futures]

    def __len__(self) -> int:
        """Messages queued in the client: not sent yet, or sent and not acknowledged."""
        return len(self._producer)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for in-flight messages; returns how many are still undelivered."""
        return int(self._producer.flush(timeout))

    def close(self, timeout: float = 30.0) -> int:
        remaining = self.flush(timeout)
        self._closed.set()
        self._poller.join(timeout=1.0)
        return remaining

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
