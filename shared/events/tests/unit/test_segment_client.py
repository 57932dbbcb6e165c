"""Packing and encoding of the Segment client: limits measured on the JSON actually sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lakehouse_events.segment import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES
from lakehouse_events.segment_client import (
    MessageTooLargeError,
    SendReport,
    batch_body,
    encode_messages,
    pack_batches,
)

pytestmark = pytest.mark.unit

SENT_AT = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def sized(size: int, marker: str = "m") -> dict[str, str]:
    """A message whose compact JSON is exactly ``size`` bytes."""
    filler = size - len(json.dumps({"messageId": marker, "x": ""}, separators=(",", ":")))
    return {"messageId": marker, "x": "a" * filler}


def test_messages_are_encoded_as_compact_json() -> None:
    encoded = encode_messages([{"type": "track", "event": "Signed Up", "timestamp": SENT_AT}])
    assert encoded == [b'{"type":"track","event":"Signed Up","timestamp":"2024-05-01T12:00:00.123456+00:00"}']


def test_a_message_over_the_limit_is_refused_naming_it() -> None:
    messages = [sized(100, "ok"), sized(MAX_MESSAGE_BYTES + 1, "huge")]
    with pytest.raises(
        MessageTooLargeError, match=r"message #1 \(messageId 'huge'\) is 32769 bytes"
    ) as error:
        encode_messages(messages)
    assert (error.value.index, error.value.size) == (1, 32769)
    assert len(encode_messages([sized(MAX_MESSAGE_BYTES, "edge")])[0]) == MAX_MESSAGE_BYTES


def test_batches_hold_at_most_the_message_count() -> None:
    batches = list(pack_batches([b"{}"] * 250, max_messages=100))
    assert [len(b) for b in batches] == [100, 100, 50]


def test_batches_stay_within_the_byte_limit_counting_envelope_and_commas() -> None:
    # The envelope {"batch":[],"sentAt":"..."} takes 56 bytes; three 10-byte messages and two
    # commas take 32: 88 bytes fit three messages, 87 only two.
    ten = [b'{"n":"%02d"}' % i for i in range(7)]
    assert all(len(p) == 10 for p in ten)
    assert [len(b) for b in pack_batches(ten, max_bytes=88)] == [3, 3, 1]
    assert [len(b) for b in pack_batches(ten, max_bytes=87)] == [2, 2, 2, 1]
    assert [p for b in pack_batches(ten, max_bytes=87) for p in b] == ten


def test_big_messages_fill_batches_up_to_the_spec_limit() -> None:
    # 17 messages of 30,000 bytes: 510,000 + 16 commas + 56 = 510,072 <= 512,000; 18 would not fit.
    encoded = encode_messages([sized(30_000, f"m{i}") for i in range(40)])
    batches = list(pack_batches(encoded))
    assert [len(b) for b in batches] == [17, 17, 6]
    assert len(batch_body(batches[0], SENT_AT)) == 510_072
    assert all(len(batch_body(b, SENT_AT)) <= MAX_BATCH_BYTES for b in batches)


def test_the_body_is_the_batch_with_its_sent_at() -> None:
    body = batch_body([b'{"messageId":"a"}', b'{"messageId":"b"}'], SENT_AT)
    assert json.loads(body) == {
        "batch": [{"messageId": "a"}, {"messageId": "b"}],
        "sentAt": "2024-05-01T12:00:00.123456+00:00",
    }


def test_reports_add_up() -> None:
    total = SendReport(100, 1, 2, 5000, 900) + SendReport(50, 1, 0, 2500, 400)
    assert total == SendReport(messages=150, batches=2, retries=2, payload_bytes=7500, bytes_sent=1300)


def test_a_replayed_message_loses_only_its_own_sent_at() -> None:
    from lakehouse_events.segment_client import as_replay

    message = {
        "type": "page",
        "anonymousId": "a",
        "sentAt": "2026-03-02T10:00:01Z",
        "timestamp": "2026-03-02T10:00:00Z",
    }
    assert as_replay(message) == {"type": "page", "anonymousId": "a", "timestamp": "2026-03-02T10:00:00Z"}
    assert message["sentAt"] == "2026-03-02T10:00:01Z"
