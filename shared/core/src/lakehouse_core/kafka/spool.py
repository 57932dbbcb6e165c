"""A publisher that never loses a record and never makes its caller wait for Kafka.

:meth:`SpooledPublisher.publish` appends the record as one JSON line to this process's segment
of a local spool folder (``<state_dir>/spool/<topic>/``) and returns: no network on the caller's
path. A background thread sends the spooled records in order through an idempotent producer
(``acks=all``) and moves the segment's "sent" mark past a record only once the broker has
acknowledged it. When Kafka is down or does not acknowledge within ``ack_timeout``, the records
stay in the spool and the thread tries again with exponential backoff, from the first record
not acknowledged.

Each segment is locked (``flock``) by the process that writes it, and the lock dies with the
process. A publisher adopts the unlocked segments it finds in its folder, at start and every
``adopt_every`` seconds: what a process that died (or closed with Kafka down) left behind is sent
by the next process using the same folder.

Guarantees:

- **Nothing published is lost** while the spool folder survives: a record is on disk before
  :meth:`~SpooledPublisher.publish` returns (written to the operating system, not fsynced: a
  process crash loses nothing, a power loss may lose the last records).
- **At least once, with the same id**: a record may be sent again (an acknowledgement lost, a
  crash between acknowledgement and the "sent" mark); it is re-sent byte for byte, so consumers
  deduplicate on the record's ``record_id``.
- **Order**: the records of one publisher reach Kafka in the order they were published, each
  first sent only after every earlier one was acknowledged; segments adopted from other
  processes are sent whole, oldest first, before the adopting publisher's own pending records.
  Kafka keeps order per partition, so consumers see that order among records of one key.
  Records of publishers running at the same time have no order between them.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from pydantic import BaseModel

from lakehouse_core.errors import KafkaError
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.producer import Delivered, EventProducer
from lakehouse_core.settings import LakehouseSettings

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".jsonl"
SENT_SUFFIX = ".sent"
REJECTED_SUFFIX = ".rejected"


class SpoolError(KafkaError):
    """The spool cannot take a record (its folder is not writable, or the publisher is closed)."""


def spool_folder(state_dir: Path, topic: str) -> Path:
    """Where a topic's spool lives under a state folder: ``<state_dir>/spool/<topic>``."""
    return state_dir / "spool" / topic


@dataclass
class _Segment:
    """A spool file and its "sent" mark (bytes of it acknowledged by the broker)."""

    path: Path
    lock: IO[bytes]
    sent: int = 0

    @property
    def mark(self) -> Path:
        return self.path.with_suffix(SENT_SUFFIX)

    def save_mark(self) -> None:
        temporary = self.mark.with_suffix(".sent-tmp")
        temporary.write_bytes(str(self.sent).encode())
        temporary.replace(self.mark)

    def load_mark(self) -> None:
        try:
            self.sent = int(self.mark.read_bytes() or b"0")
        except (FileNotFoundError, ValueError):
            self.sent = 0
        if self.sent > self.path.stat().st_size:
            self.sent = 0  # truncated after its last record was sent, mark not reset yet

    def reject(self, line: bytes, reason: str) -> None:
        """Keep a line that cannot be sent beside the segment, and say so."""
        with self.path.with_suffix(REJECTED_SUFFIX).open("ab") as rejected:
            rejected.write(line.rstrip(b"\n") + b"\n")
        log.error(
            "spooled record cannot be sent, kept aside",
            extra={
                "segment": str(self.path),
                "reason": reason,
                "rejected": f"{self.path.stem}{REJECTED_SUFFIX}",
            },
        )


class _NotDeliveredError(Exception):
    pass


class SpooledPublisher:
    """Publishes pydantic records to one topic through a local spool (see the module's doc)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: TopicSpec,
        *,
        spool_dir: Path | None = None,
        ack_timeout: float = 10.0,
        initial_backoff: float = 0.5,
        max_backoff: float = 30.0,
        adopt_every: float = 60.0,
        batch_size: int = 500,
        producer_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.bootstrap_servers = bootstrap_servers
        self.spool_dir = spool_dir or spool_folder(LakehouseSettings().state_dir, topic.name)
        self.ack_timeout = ack_timeout
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.adopt_every = adopt_every
        self.batch_size = batch_size
        self._producer_config = {
            "delivery.timeout.ms": max(1000, int(ack_timeout * 1000)),
            **(producer_config or {}),
        }
        self._lock = threading.Lock()
        self._progress = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._closed = False
        self._orphans: list[_Segment] = []
        self._producer: EventProducer | None = None
        self._topic_ready = False
        try:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            self._own = self._create_segment()
        except OSError as exc:
            raise SpoolError(f"{topic.name}: cannot create the spool in {self.spool_dir}: {exc}") from exc
        self._written = 0
        try:
            self._adopt_orphans()  # before the first flush() can look: what dead processes left counts
        except OSError as exc:
            raise SpoolError(f"{topic.name}: cannot read the spool in {self.spool_dir}: {exc}") from exc
        self._sender = threading.Thread(target=self._send_forever, name=f"spool-{topic.name}", daemon=True)
        self._sender.start()
        atexit.register(_close_at_exit, weakref.ref(self))

    # -- the caller's side -------------------------------------------------------------------

    def publish(self, record: BaseModel, *, key: str | None = None) -> None:
        """Spool ``record`` (sent in the background); returns without waiting for Kafka. Raises
        :class:`SpoolError` only when the spool itself cannot be written."""
        line = orjson.dumps({"key": key, "value": record.model_dump(mode="json")}) + b"\n"
        with self._lock:
            if self._closed:
                raise SpoolError(f"{self.topic.name}: the publisher is closed")
            try:
                written = os.write(self._own.lock.fileno(), line)
            except OSError as exc:
                raise SpoolError(f"{self.topic.name}: cannot write to {self._own.path}: {exc}") from exc
            if written != len(line):
                raise SpoolError(f"{self.topic.name}: short write to {self._own.path}")
            self._written += written
        self._wake.set()

    def pending(self) -> int:
        """Records spooled and not yet acknowledged, this publisher's and the adopted ones."""
        with self._lock:
            segments = [(self._own, self._written), *((s, s.path.stat().st_size) for s in self._orphans)]
        count = 0
        for segment, end in segments:
            try:
                with segment.path.open("rb") as source:
                    source.seek(segment.sent)
                    count += source.read(max(0, end - segment.sent)).count(b"\n")
            except FileNotFoundError:
                continue  # an adopted segment finished meanwhile
        return count

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything published so far (and every adopted segment) is acknowledged;
        False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self._own.sent < self._written or self._orphans:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(remaining)
        return True

    def close(self, timeout: float = 5.0) -> int:
        """Send what is pending for up to ``timeout`` seconds, then stop. Returns how many records
        stay in the spool: the next publisher on the same folder sends them."""
        with self._lock:
            if self._closed:
                return 0
        self.flush(timeout)
        self._closing.set()
        self._wake.set()
        self._sender.join(timeout=1.0)
        with self._lock:
            self._closed = True
            if self._own.sent == self._written and not self._sender.is_alive():
                for stale in (self._own.path, self._own.mark):
                    stale.unlink(missing_ok=True)
        left = self.pending()
        with self._lock:
            self._own.lock.close()  # unlocked: the next publisher on the folder adopts what is left
            for orphan in self._orphans:
                orphan.lock.close()
        if self._producer is not None:
            self._producer.close(timeout=1.0)
            self._producer = None  # released, so librdkafka stops reconnecting
        if left:
            log.warning(
                "publisher closed with records still spooled; the next publisher on the folder sends them",
                extra={"topic": self.topic.name, "spooled": left, "spool": str(self.spool_dir)},
            )
        return left

    def __enter__(self) -> SpooledPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- segments ------------------------------------------------------------------------------

    def _create_segment(self) -> _Segment:
        """A new segment, locked before it gets the name adopters look for."""
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        creating = self.spool_dir / f"{name}.creating"
        flags = (
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        )  # appends land at the end after a truncation
        sink = os.fdopen(os.open(creating, flags, 0o644), "ab", buffering=0)
        fcntl.flock(sink.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        path = self.spool_dir / f"{name}{SEGMENT_SUFFIX}"
        creating.rename(path)
        return _Segment(path, sink)

    def _adopt_orphans(self) -> None:
        """Lock and queue, oldest first, the segments no living process holds."""
        known = {self._own.path, *(s.path for s in self._orphans)}
        for path in sorted(self.spool_dir.glob(f"*{SEGMENT_SUFFIX}")):
            if path in known:
                continue
            try:
                handle = path.open("rb")
            except FileNotFoundError:
                continue  # adopted and finished by another process meanwhile
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            if not path.exists():  # finished by another process between glob and lock
                handle.close()
                continue
            orphan = _Segment(path, handle)
            orphan.load_mark()
            with self._lock:
                self._orphans.append(orphan)
            log.info("adopted a spool segment", extra={"topic": self.topic.name, "segment": path.name})

    # -- the sender thread --------------------------------------------------------------------

    def _send_forever(self) -> None:
        backoff = self.initial_backoff
        next_adoption = time.monotonic() + self.adopt_every
        failing_since: float | None = None
        while not self._closed:
            self._wake.clear()  # a publish from now on wakes the wait below
            if time.monotonic() >= next_adoption:
                try:
                    self._adopt_orphans()
                except OSError as exc:
                    log.error(
                        "cannot read the spool folder",
                        extra={"spool": str(self.spool_dir), "error": str(exc)},
                    )
                next_adoption = time.monotonic() + self.adopt_every
            try:
                progressed = self._send_some()
            except (KafkaError, _NotDeliveredError, OSError) as exc:
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning(
                        "kafka did not take spooled records; retrying with backoff",
                        extra={"topic": self.topic.name, "error": str(exc)},
                    )
                if self._closing.wait(backoff):
                    return
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if failing_since is not None:
                log.info(
                    "kafka takes spooled records again",
                    extra={
                        "topic": self.topic.name,
                        "outage_seconds": round(time.monotonic() - failing_since, 1),
                    },
                )
                failing_since = None
            backoff = self.initial_backoff
            if progressed:
                continue
            if self._closing.is_set():
                return
            self._wake.wait(timeout=max(0.05, min(1.0, next_adoption - time.monotonic())))

    def _send_some(self) -> bool:
        """Send one batch from the first segment with pending records; whether any was sent."""
        with self._lock:
            queue = [(s, s.path.stat().st_size) for s in self._orphans]
            queue.append((self._own, self._written))
        for segment, end in queue:
            if segment.sent < end:
                self._send_batch(segment, end)
                return True
            if segment is not self._own:
                self._finish_orphan(segment)
                return True
        return False

    def _send_batch(self, segment: _Segment, end: int) -> None:
        with segment.path.open("rb") as source:
            source.seek(segment.sent)
            data = source.read(end - segment.sent)
        complete = data[: data.rfind(b"\n") + 1]
        if not complete:
            if segment is not self._own:  # a torn last line: its writer died mid-write
                segment.reject(data, "incomplete last line (the writing process died while writing it)")
                self._advance(segment, len(data))
            return
        lines = complete.splitlines(keepends=True)[: self.batch_size]
        messages: list[tuple[bytes, bytes | None, list[tuple[str, bytes]]]] = []
        sizes: list[int] = []
        for line in lines:
            try:
                entry = orjson.loads(line)
                value = orjson.dumps(entry["value"])
                key = entry["key"].encode() if entry.get("key") is not None else None
                record_id = entry["value"].get("record_id") if isinstance(entry["value"], dict) else None
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                if messages:
                    break  # send what precedes it first, so order holds
                segment.reject(line, f"not a spooled record: {exc}")
                self._advance(segment, len(line))
                return
            headers = [("record_id", str(record_id).encode())] if record_id is not None else []
            messages.append((value, key, headers))
            sizes.append(len(line))
        delivered = self._deliver(messages)
        self._advance(segment, sum(sizes[:delivered]))
        if delivered < len(messages):
            raise _NotDeliveredError(
                f"{len(messages) - delivered} of {len(messages)} records not acknowledged"
            )

    def _deliver(self, messages: list[tuple[bytes, bytes | None, list[tuple[str, bytes]]]]) -> int:
        """Send and wait; how many records from the start of ``messages`` the broker acknowledged."""
        producer = self._producer
        if producer is None:
            producer = self._producer = EventProducer(self.bootstrap_servers, **self._producer_config)
        if not self._topic_ready:
            ensure_topics(self.bootstrap_servers, [self.topic], timeout=self.ack_timeout)
            self._topic_ready = True
        futures: list[Future[Delivered]] = [
            producer.send(self.topic.name, value, key=key, headers=headers)
            for value, key, headers in messages
        ]
        wait(futures, timeout=self.ack_timeout + 5.0)
        for index, future in enumerate(futures):
            if not future.done() or future.exception() is not None:
                if future.done() and "UNKNOWN_TOPIC" in str(future.exception()).upper():
                    self._topic_ready = False
                producer.close(timeout=0.0)  # a fresh producer re-sends from the first not taken
                self._producer = None
                return index
        return len(futures)

    def _advance(self, segment: _Segment, size: int) -> None:
        if size == 0:
            return
        with self._progress:
            if self._closed:
                return  # a delivery that ended after close(): the record is re-sent later, by id
            segment.sent += size
            segment.save_mark()
            if segment is self._own and segment.sent == self._written:
                os.ftruncate(segment.lock.fileno(), 0)
                segment.sent = self._written = 0
                segment.save_mark()
            self._progress.notify_all()

    def _finish_orphan(self, segment: _Segment) -> None:
        """An adopted segment fully sent: remove it (its rejected lines, if any, stay)."""
        with self._progress:
            for done in (segment.path, segment.mark):
                done.unlink(missing_ok=True)
            segment.lock.close()
            self._orphans.remove(segment)
            self._progress.notify_all()
        log.info("spool segment sent", extra={"topic": self.topic.name, "segment": segment.path.name})


def _close_at_exit(reference: weakref.ref[SpooledPublisher]) -> None:
    publisher = reference()
    if publisher is not None:
        publisher.close(timeout=2.0)
