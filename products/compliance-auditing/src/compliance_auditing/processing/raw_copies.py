"""When the raw copies of a person's events in Kafka expire. Erasure cannot delete single
records from a topic (the event topics are not compacted, and a compacted delete would need the
record's key), so the certificate states the bound instead: a record written before the
certificate is issued is gone from a topic at the latest ``retention.ms + segment.ms`` later
(Kafka deletes whole segments, once the newest record of a rolled segment is past retention),
as the broker reports the topic's configuration at execution."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lakehouse_core.errors import KafkaError
from lakehouse_core.kafka.admin import TopicRetention, topic_retentions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicsChecked:
    """The catalog's topics and the retention the broker reported for those it holds; ``reason``
    says why none could be read."""

    topics: tuple[str, ...]
    retentions: dict[str, TopicRetention]
    reason: str | None = None


def check_topics(topics: list[str], bootstrap_servers: str | None) -> TopicsChecked:
    """Read the topics' retention from the broker; a broker that cannot be asked is recorded,
    not raised, so the erasure of the lake still completes and the certificate says so."""
    if not bootstrap_servers:
        return TopicsChecked(tuple(topics), {}, "no Kafka broker configured for the erasure task")
    try:
        return TopicsChecked(tuple(topics), topic_retentions(bootstrap_servers, topics))
    except KafkaError as exc:
        log.warning("topic retention not read: %s", exc)
        return TopicsChecked(tuple(topics), {}, f"the broker did not answer: {exc}")


def raw_copies_section(checked: TopicsChecked, issued_at: datetime) -> dict[str, Any]:
    """The certificate's ``kafka`` entry: per topic its retention and the time its last raw copy
    of the subject expires by, and that time over every topic (null when a topic keeps records
    for ever or could not be read)."""
    if checked.reason is not None:
        return {"checked": False, "reason": checked.reason, "topics": list(checked.topics)}
    entries: list[dict[str, Any]] = []
    bounds: list[datetime | None] = []
    for topic in checked.topics:
        retention = checked.retentions.get(topic)
        if retention is None:
            entries.append({"topic": topic, "status": "absent"})
            continue
        longest = retention.longest_kept_ms
        expires = None if longest is None else issued_at + timedelta(milliseconds=longest)
        bounds.append(expires)
        entries.append(
            {
                "topic": topic,
                "status": "kept_for_ever" if expires is None else "expires",
                "retention_ms": retention.retention_ms,
                "segment_ms": retention.segment_ms,
                "last_raw_copy_expires_by": expires.isoformat() if expires else None,
            }
        )
    last = None if None in bounds else max((b for b in bounds if b is not None), default=issued_at)
    return {
        "checked": True,
        "topics": entries,
        "last_raw_copy_expires_by": last.isoformat() if last else None,
    }
