"""The certificate's Kafka entry: when the last raw copy of a person's events expires."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from compliance_auditing.processing.raw_copies import TopicsChecked, raw_copies_section
from lakehouse_core.kafka.admin import TopicRetention

pytestmark = pytest.mark.unit

ISSUED = datetime(2026, 3, 2, 12, tzinfo=UTC)
DAY, HOUR = 86_400_000, 3_600_000


def test_the_last_raw_copy_expires_with_the_longest_retention_plus_its_segment_roll() -> None:
    checked = TopicsChecked(
        ("web.events.v1", "mobile.events.v1", "gone.v1"),
        {
            "web.events.v1": TopicRetention("web.events.v1", 7 * DAY, HOUR),
            "mobile.events.v1": TopicRetention("mobile.events.v1", 30 * DAY, DAY),
        },
    )

    section = raw_copies_section(checked, ISSUED)

    by_topic = {t["topic"]: t for t in section["topics"]}
    assert by_topic["web.events.v1"]["last_raw_copy_expires_by"] == "2026-03-09T13:00:00+00:00"
    assert by_topic["mobile.events.v1"]["last_raw_copy_expires_by"] == "2026-04-02T12:00:00+00:00"
    assert by_topic["gone.v1"] == {"topic": "gone.v1", "status": "absent"}
    assert section["last_raw_copy_expires_by"] == "2026-04-02T12:00:00+00:00"


def test_a_topic_kept_for_ever_or_an_unread_broker_gives_no_expiry() -> None:
    forever = TopicsChecked(("audit.v1",), {"audit.v1": TopicRetention("audit.v1", None, HOUR)})
    unread = TopicsChecked(("web.events.v1",), {}, "the broker did not answer: timeout")

    kept = raw_copies_section(forever, ISSUED)
    unknown = raw_copies_section(unread, ISSUED)

    assert kept["topics"][0]["status"] == "kept_for_ever"
    assert kept["last_raw_copy_expires_by"] is None
    assert unknown == {
        "checked": False,
        "reason": "the broker did not answer: timeout",
        "topics": ["web.events.v1"],
    }
