"""Historical Segment events onto a product's events topic, marked as imported.

A product's ``import`` command reads Segment-format messages from a file of JSON lines (plain
or gzip) or from a Kafka topic, checks each against the Segment contract as the collector
checks a call, and writes the valid ones to the product's events topic. From there they travel
the normal path (bronze → silver → gold), so exactly-once and reconciliation hold for them as
for live events. Each written message:

- carries the import marker (``_import``: source and time of the import, see
  :class:`~lakehouse_events.segment.ImportMarker`); bronze stores it with the message, silver
  sets ``imported`` from it and judges the event time by the wider window for imported history
  (``event_time.imported_max_days_before_received``);
- keeps its own ``receivedAt`` when it has one; otherwise ``receivedAt`` is the moment of the
  import and the message's ``sentAt`` is dropped, because the clock-skew correction
  ``receivedAt - (sentAt - originalTimestamp)`` needs the real moment of receipt and would
  otherwise move the event to the import day;
- keeps its ``messageId``, or gets one derived from its content (``import-<hash>``), so
  importing the same file twice yields the same ids and silver's deduplication sends the second
  copies to quarantine instead of counting them twice.

A line that is not a valid message is reported with its line number (or Kafka partition and
offset) and the reason, and is not written; every valid line is written all the same.
"""

from __future__ import annotations

import gzip
import hashlib
import typing
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson
from pydantic import ValidationError

from lakehouse_core.errors import LakehouseError
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_events.collector.envelope import describe_validation_error, ids_as_strings
from lakehouse_events.segment import IMPORT_FIELD, CollectedMessage, SegmentMessage

if TYPE_CHECKING:
    from confluent_kafka import Consumer

    from lakehouse_events.collector.app import CollectedProductConfig

_GZIP_MAGIC = b"\x1f\x8b"
#: Messages sent to Kafka per acknowledged chunk: bounds what is in flight, not what is read.
CHUNK_MESSAGES = 5_000


class ImportSourceError(LakehouseError):
    """The file or topic to import from cannot be read at all."""


@dataclass(frozen=True)
class RefusedLine:
    """A line (or Kafka record) that is not a valid Segment message, and why."""

    where: str
    reason: str
    raw: bytes


@dataclass(frozen=True)
class ImportedMessage:
    key: bytes
    value: bytes
    message_id: str


@dataclass
class ImportReport:
    """What an import did: lines read (blank ones not counted), messages written, refused lines."""

    source: str
    read: int = 0
    imported: int = 0
    refused: list[RefusedLine] = field(default_factory=list)


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def imported_message(raw: bytes, *, source: str, imported_at: datetime) -> ImportedMessage | str:
    """One line → the message as the import writes it to Kafka, or the reason it is refused
    (pure). See the module's description for what is kept, added and dropped."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return f"not valid JSON: {exc}"
    if not isinstance(payload, dict):
        return f"not a JSON object but {type(payload).__name__}"
    try:
        message = SegmentMessage.model_validate(payload)
    except ValidationError as exc:
        return describe_validation_error(exc)
    out: dict[str, Any] = {
        k: v for k, v in ids_as_strings(payload, message).items() if k not in ("writeKey", IMPORT_FIELD)
    }
    if not out.get("messageId"):
        out["messageId"] = f"import-{hashlib.sha256(raw.strip()).hexdigest()[:32]}"
    if out.get("receivedAt") in (None, ""):
        out.pop("sentAt", None)
        out["receivedAt"] = _timestamp(imported_at)
    out[IMPORT_FIELD] = {"source": source, "importedAt": _timestamp(imported_at)}
    try:
        collected = CollectedMessage.model_validate(out)
    except ValidationError as exc:
        return describe_validation_error(exc)
    key = (message.user_id or message.anonymous_id or "").encode()
    return ImportedMessage(key=key, value=orjson.dumps(out), message_id=collected.message_id)


def _open(path: Path) -> BinaryIO:
    try:
        with path.open("rb") as probe:
            compressed = probe.read(2) == _GZIP_MAGIC
        return typing.cast("BinaryIO", gzip.open(path, "rb")) if compressed else path.open("rb")
    except OSError as exc:
        raise ImportSourceError(f"cannot read {path}: {exc}") from exc


def file_lines(path: Path) -> Iterator[tuple[str, bytes]]:
    """``("line N", bytes)`` for each line of a JSON-lines file without its line end, gzip-compressed
    or not (recognised by its first bytes, whatever the file is called)."""
    with _open(path) as lines:
        try:
            for number, line in enumerate(lines, start=1):
                yield f"line {number}", line.rstrip(b"\r\n")
        except (OSError, EOFError) as exc:
            raise ImportSourceError(f"{path}: the gzip data is damaged or truncated: {exc}") from exc


def _partition_ranges(consumer: Consumer, topic: str, bootstrap_servers: str) -> dict[int, tuple[int, int]]:
    """Each non-empty partition's first offset and high watermark, now."""
    from confluent_kafka import TopicPartition

    metadata = consumer.list_topics(topic, timeout=10.0).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise ImportSourceError(f"topic {topic!r} does not exist on {bootstrap_servers}")
    ranges = {}
    for partition in sorted(metadata.partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10.0)
        if high > low:
            ranges[partition] = (low, high)
    return ranges


def topic_records(
    bootstrap_servers: str, topic: str, *, poll_timeout: float = 1.0, idle_timeout: float = 30.0
) -> Iterator[tuple[str, bytes]]:
    """``("partition P offset O", value)`` for every record the topic holds when the import
    starts (from each partition's first offset to its high watermark then); records written
    later are not read. Raises :class:`ImportSourceError` when the topic does not exist, or when
    no record arrives for ``idle_timeout`` seconds before the end is reached."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"history-import-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        ranges = _partition_ranges(consumer, topic, bootstrap_servers)
        ends = {partition: high for partition, (_, high) in ranges.items()}
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ranges.items()])
        waited = 0.0
        while ends:
            record = consumer.poll(poll_timeout)
            error = None if record is None else record.error()
            if record is None or error is not None:
                if error is not None and not error.retriable():
                    raise ImportSourceError(f"topic {topic!r}: {error.str()}")
                for position in consumer.position([TopicPartition(topic, p) for p in ends]):
                    if position.offset >= ends[position.partition]:
                        del ends[position.partition]
                waited += poll_timeout
                if ends and waited >= idle_timeout:
                    raise ImportSourceError(
                        f"topic {topic!r}: no record for {idle_timeout:.0f}s before its end"
                    )
                continue
            waited = 0.0
            partition, offset = record.partition() or 0, record.offset() or 0
            if partition in ends and offset < ends[partition]:
                yield f"partition {partition} offset {offset}", record.value() or b""
                if offset + 1 >= ends[partition]:
                    del ends[partition]
    except KafkaException as exc:
        raise ImportSourceError(f"topic {topic!r}: {exc}") from exc
    finally:
        consumer.close()


def import_lines(
    lines: Iterable[tuple[str, bytes]],
    *,
    source: str,
    topic: str,
    producer: EventProducer,
    imported_at: datetime | None = None,
) -> ImportReport:
    """Write the valid messages of ``lines`` to ``topic`` (each chunk acknowledged by the broker
    before the next is read) and report the refused ones. Blank lines are skipped."""
    at = imported_at or datetime.now(UTC)
    report = ImportReport(source=source)
    chunk: list[OutgoingMessage] = []

    def flush() -> None:
        producer.send_all(chunk, timeout=120.0)
        report.imported += len(chunk)
        chunk.clear()

    for where, raw in lines:
        if not raw.strip():
            continue
        report.read += 1
        outcome = imported_message(raw, source=source, imported_at=at)
        if isinstance(outcome, str):
            report.refused.append(RefusedLine(where, outcome, raw))
            continue
        chunk.append(OutgoingMessage(topic, outcome.value, key=outcome.key))
        if len(chunk) >= CHUNK_MESSAGES:
            flush()
    if chunk:
        flush()
    return report


def describe_report(report: ImportReport, *, limit: int = 50) -> list[str]:
    """The report as lines for a person: totals, then up to ``limit`` refused lines."""
    summary = (
        f"{report.source}: {report.imported} of {report.read} messages imported, "
        f"{len(report.refused)} refused"
    )
    refused = [f"  {r.where}: {r.reason}" for r in report.refused[:limit]]
    if len(report.refused) > limit:
        refused.append(f"  … and {len(report.refused) - limit} more refused lines")
    return [summary, *refused]


def import_history(
    config: CollectedProductConfig,
    *,
    topics: Iterable[TopicSpec],
    bootstrap_servers: str,
    file: str | Path | None = None,
    from_topic: str | None = None,
    imported_at: datetime | None = None,
) -> ImportReport:
    """Import ``file`` or the topic ``from_topic`` into the product's events topic
    (``config.topics["events"]``; ``topics``, the product's, are created when missing); see the
    module's description."""
    if (file is None) == (from_topic is None):
        raise ImportSourceError("import needs either a FILE or --from-topic TOPIC (not both)")
    events_topic = config.topics["events"].name
    if from_topic == events_topic:
        raise ImportSourceError(
            f"{from_topic!r} is the product's own events topic; import from another topic"
        )
    ensure_topics(bootstrap_servers, topics)
    if file is not None:
        lines, source = file_lines(Path(file)), Path(file).name
    else:
        assert from_topic is not None
        lines, source = topic_records(bootstrap_servers, from_topic), f"kafka:{from_topic}"
    with EventProducer(bootstrap_servers) as producer:
        return import_lines(
            lines, source=source, topic=events_topic, producer=producer, imported_at=imported_at
        )


def write_refused(report: ImportReport, path: str | Path) -> None:
    """The refused lines as JSON lines ``{"where", "reason", "raw"}``, to fix and import again."""
    with Path(path).open("wb") as out:
        for refused in report.refused:
            record = {
                "where": refused.where,
                "reason": refused.reason,
                "raw": refused.raw.decode("utf-8", "replace"),
            }
            out.write(orjson.dumps(record) + b"\n")


__all__ = [
    "ImportReport",
    "ImportSourceError",
    "ImportedMessage",
    "RefusedLine",
    "describe_report",
    "file_lines",
    "import_history",
    "import_lines",
    "imported_message",
    "topic_records",
    "write_refused",
]
