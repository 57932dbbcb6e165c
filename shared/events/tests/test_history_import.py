"""The history importer's line handling: what it keeps, adds, drops and refuses (no broker)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from lakehouse_events.history_import import (
    ImportedMessage,
    ImportSourceError,
    file_lines,
    imported_message,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def convert(message: object) -> dict[str, object]:
    outcome = imported_message(orjson.dumps(message), source="export.jsonl", imported_at=NOW)
    assert isinstance(outcome, ImportedMessage), outcome
    return orjson.loads(outcome.value)  # type: ignore[no-any-return]


def test_a_message_with_its_own_received_at_keeps_it_and_its_sent_at() -> None:
    value = convert(
        {
            "type": "page",
            "messageId": "m-1",
            "anonymousId": "a-1",
            "originalTimestamp": "2024-12-03T10:00:00Z",
            "sentAt": "2024-12-03T10:00:05Z",
            "receivedAt": "2024-12-03T10:00:06Z",
            "writeKey": "secret",
        }
    )

    assert (value["receivedAt"], value["sentAt"], value["messageId"]) == (
        "2024-12-03T10:00:06Z",
        "2024-12-03T10:00:05Z",
        "m-1",
    )
    assert value["_import"] == {"source": "export.jsonl", "importedAt": "2026-12-01T09:30:00Z"}
    assert "writeKey" not in value


def test_without_received_at_the_import_time_is_used_and_sent_at_dropped() -> None:
    value = convert(
        {
            "type": "track",
            "event": "E",
            "userId": 4711,
            "timestamp": "2024-12-03T10:00:00Z",
            "sentAt": "2024-12-03T10:00:09Z",
        }
    )

    assert value["receivedAt"] == "2026-12-01T09:30:00Z"
    assert "sentAt" not in value
    assert value["userId"] == "4711"


def test_a_missing_message_id_is_derived_from_the_content() -> None:
    line = {"type": "track", "event": "E", "anonymousId": "a", "timestamp": "2024-12-03T10:00:00Z"}

    first, again, other = convert(line), convert(line), convert({**line, "event": "F"})

    assert str(first["messageId"]).startswith("import-")
    assert first["messageId"] == again["messageId"] != other["messageId"]


def test_the_key_is_the_user_id_else_the_anonymous_id() -> None:
    identified = imported_message(
        b'{"type":"identify","userId":"u-1","anonymousId":"a-1"}', source="f", imported_at=NOW
    )
    anonymous = imported_message(b'{"type":"identify","anonymousId":"a-1"}', source="f", imported_at=NOW)

    assert isinstance(identified, ImportedMessage)
    assert identified.key == b"u-1"
    assert isinstance(anonymous, ImportedMessage)
    assert anonymous.key == b"a-1"


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object but list"),
        (b'{"type": "track", "anonymousId": "a"}', "track calls require an event name"),
        (
            b'{"type": "page", "anonymousId": "a", "name": "Home\\u0000"}',
            "name: Value error, must not contain",
        ),
        (b'{"type": "page", "anonymousId": "a", "receivedAt": "last week"}', "receivedAt"),
    ],
)
def test_invalid_lines_are_refused_with_the_reason(raw: bytes, needle: str) -> None:
    outcome = imported_message(raw, source="f", imported_at=NOW)

    assert isinstance(outcome, str)
    assert needle in outcome


def test_plain_and_gzip_files_are_read_line_by_line(tmp_path: Path) -> None:
    lines = b'{"a": 1}\r\n\n{"b": 2}\n'
    plain, packed = tmp_path / "events.jsonl", tmp_path / "events.data"
    plain.write_bytes(lines)
    packed.write_bytes(gzip.compress(lines))

    assert (
        list(file_lines(plain))
        == list(file_lines(packed))
        == [
            ("line 1", b'{"a": 1}'),
            ("line 2", b""),
            ("line 3", b'{"b": 2}'),
        ]
    )


def test_a_missing_or_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    damaged = tmp_path / "cut.jsonl.gz"
    damaged.write_bytes(gzip.compress(b'{"a": 1}\n' * 1000)[:40])

    with pytest.raises(ImportSourceError, match="cannot read"):
        list(file_lines(tmp_path / "absent.jsonl"))
    with pytest.raises(ImportSourceError, match="damaged or truncated"):
        list(file_lines(damaged))
