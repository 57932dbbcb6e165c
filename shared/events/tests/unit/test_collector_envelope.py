import gzip
import zlib
from datetime import UTC, datetime

import orjson
import pytest

from lakehouse_events.collector.envelope import (
    CollectedEvent,
    InvalidMessage,
    RequestRejected,
    collect_batch,
    collect_message,
    decode_body,
    parse_json_object,
)
from lakehouse_events.segment import MAX_MESSAGE_BYTES, CollectedMessage

pytestmark = pytest.mark.unit

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def page(**extra: object) -> dict[str, object]:
    return {"type": "page", "messageId": "m-1", "anonymousId": "anon-1", **extra}


def test_gzip_body_is_inflated() -> None:
    assert decode_body(gzip.compress(b'{"a": 1}'), "gzip", limit=100) == b'{"a": 1}'


def test_deflate_and_identity_bodies() -> None:
    assert decode_body(zlib.compress(b"xyz"), "deflate", limit=10) == b"xyz"
    assert decode_body(b"xyz", None, limit=10) == b"xyz"


def test_a_small_gzip_body_may_not_inflate_past_the_limit() -> None:
    bomb = gzip.compress(b"0" * 1_000_000)
    assert len(bomb) < 5_000
    with pytest.raises(RequestRejected) as caught:
        decode_body(bomb, "gzip", limit=500 * 1024)
    assert caught.value.status == 413


def test_corrupt_and_truncated_gzip_are_400() -> None:
    with pytest.raises(RequestRejected) as corrupt:
        decode_body(b"not gzip at all", "gzip", limit=100)
    with pytest.raises(RequestRejected) as truncated:
        decode_body(gzip.compress(b'{"a": 1}')[:-6], "gzip", limit=100)
    assert (corrupt.value.status, truncated.value.status) == (400, 400)


def test_unknown_encoding_is_415() -> None:
    with pytest.raises(RequestRejected) as caught:
        decode_body(b"{}", "br", limit=100)
    assert caught.value.status == 415


@pytest.mark.parametrize(("body", "needle"), [(b"{nope", "not valid JSON"), (b"[1, 2]", "JSON object")])
def test_bodies_that_are_not_json_objects_are_400(body: bytes, needle: str) -> None:
    with pytest.raises(RequestRejected) as caught:
        parse_json_object(body)
    assert caught.value.status == 400
    assert needle in caught.value.reason


def test_a_message_is_wrapped_with_the_collectors_facts() -> None:
    outcome = collect_message(
        {**page(context={"page": {"path": "/a"}}), "writeKey": "secret"},
        index=0,
        received_at=RECEIVED,
        client_ip="203.0.113.9",
        batch_context={"library": {"name": "analytics.js"}, "page": {"title": "T"}},
        batch_sent_at="2026-03-01T11:59:59Z",
    )
    assert isinstance(outcome, CollectedEvent)
    value = orjson.loads(outcome.value)
    assert value["context"] == {
        "library": {"name": "analytics.js"},
        "page": {"title": "T", "path": "/a"},
        "ip": "203.0.113.9",
    }
    assert value["sentAt"] == "2026-03-01T11:59:59Z"
    assert value["receivedAt"] == "2026-03-01T12:00:00Z"
    assert "writeKey" not in value
    assert outcome.key == b"anon-1"
    assert CollectedMessage.model_validate(value).message_id == "m-1"


def test_user_id_is_the_key_and_a_sent_ip_is_kept() -> None:
    outcome = collect_message(
        page(userId="u-7", context={"ip": "198.51.100.1"}),
        index=0,
        received_at=RECEIVED,
        client_ip="10.0.0.1",
    )
    assert isinstance(outcome, CollectedEvent)
    assert outcome.key == b"u-7"
    assert orjson.loads(outcome.value)["context"]["ip"] == "198.51.100.1"


def test_a_missing_message_id_is_generated() -> None:
    outcome = collect_message(
        {"type": "track", "event": "Clicked", "userId": "u"}, index=0, received_at=RECEIVED, client_ip=None
    )
    assert isinstance(outcome, CollectedEvent)
    assert outcome.message_id.startswith("collector-")
    assert orjson.loads(outcome.value)["messageId"] == outcome.message_id


def test_a_client_cannot_mark_its_events_as_imported_history() -> None:
    sent = page(_import={"source": "sdk", "importedAt": "2026-03-01T12:00:00Z"}, writeKey="k")
    outcome = collect_message(sent, index=0, received_at=RECEIVED, client_ip=None)
    assert isinstance(outcome, CollectedEvent)
    stored = orjson.loads(outcome.value)
    assert "_import" not in stored
    assert "writeKey" not in stored
    assert CollectedMessage.model_validate(stored).imported is None


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        ({"type": "page", "messageId": "x"}, "userId or anonymousId"),
        ({"type": "track", "anonymousId": "a"}, "event name"),
        ({"type": "shout", "anonymousId": "a"}, "type"),
        ({"type": "page", "anonymousId": "a", "timestamp": "yesterday"}, "timestamp"),
        ({"type": "page", "anonymousId": "a", "properties": "not-an-object"}, "properties"),
    ],
)
def test_invalid_messages_carry_a_readable_reason(message: dict[str, object], needle: str) -> None:
    outcome = collect_message(message, index=4, received_at=RECEIVED, client_ip=None)
    assert isinstance(outcome, InvalidMessage)
    assert outcome.index == 4
    assert needle in outcome.reason
    assert orjson.loads(outcome.raw) == message


def test_an_oversized_message_is_invalid() -> None:
    outcome = collect_message(
        page(properties={"blob": "x" * MAX_MESSAGE_BYTES}), index=0, received_at=RECEIVED, client_ip=None
    )
    assert isinstance(outcome, InvalidMessage)
    assert "limit is 32768" in outcome.reason


def test_a_single_endpoint_fills_in_or_checks_the_type() -> None:
    filled = collect_message(
        {"anonymousId": "a", "event": "E"},
        index=0,
        received_at=RECEIVED,
        client_ip=None,
        expected_type="track",
    )
    wrong = collect_message(page(), index=0, received_at=RECEIVED, client_ip=None, expected_type="track")
    assert isinstance(filled, CollectedEvent)
    assert orjson.loads(filled.value)["type"] == "track"
    assert isinstance(wrong, InvalidMessage)


def test_a_batch_keeps_its_valid_messages_and_reports_the_rest() -> None:
    collected = collect_batch(
        {"batch": [page(), "junk", {"type": "track", "anonymousId": "a"}, page(messageId="m-2")]},
        received_at=RECEIVED,
        client_ip=None,
    )
    assert [e.message_id for e in collected.events] == ["m-1", "m-2"]
    assert [m.index for m in collected.invalid] == [1, 2]


@pytest.mark.parametrize("payload", [{}, {"batch": []}, {"batch": {"type": "page"}}])
def test_a_batch_without_messages_is_rejected(payload: dict[str, object]) -> None:
    with pytest.raises(RequestRejected) as caught:
        collect_batch(payload, received_at=RECEIVED, client_ip=None)
    assert caught.value.status == 400


def test_numeric_ids_are_accepted_and_stored_as_strings() -> None:
    outcome = collect_message(
        {"type": "alias", "messageId": "m-9", "userId": 4711, "anonymousId": 99, "previousId": 99},
        index=0,
        received_at=RECEIVED,
        client_ip=None,
    )
    group = collect_message(
        {"type": "group", "messageId": "m-10", "userId": 4711, "groupId": 12},
        index=1,
        received_at=RECEIVED,
        client_ip=None,
    )

    assert isinstance(outcome, CollectedEvent), outcome
    assert outcome.key == b"4711"
    value = orjson.loads(outcome.value)
    assert (value["userId"], value["anonymousId"], value["previousId"]) == ("4711", "99", "99")
    assert isinstance(group, CollectedEvent), group
    assert orjson.loads(group.value)["groupId"] == "12"


@pytest.mark.parametrize(
    ("ids", "needle"),
    [
        ({"userId": 12.5}, "userId: Value error, must be a string or an integer, got float 12.5"),
        ({"anonymousId": True}, "anonymousId: Value error, must be a string or an integer, got bool True"),
        ({"userId": {"id": 1}}, "userId: Value error, must be a string or an integer, got dict"),
    ],
)
def test_ids_that_are_neither_text_nor_integers_are_refused(ids: dict[str, object], needle: str) -> None:
    outcome = collect_message(
        {"type": "track", "event": "E", **ids}, index=0, received_at=RECEIVED, client_ip=None
    )

    assert isinstance(outcome, InvalidMessage)
    assert needle in outcome.reason


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        (
            page(name="Pri\x00cing"),
            "name: Value error, must not contain control characters (U+0000 at position 3)",
        ),
        (
            {"type": "track", "anonymousId": "a", "event": "Signed\nUp"},
            "event: Value error, must not contain",
        ),
        ({"type": "screen", "anonymousId": "a", "name": "Home\x7f"}, "(U+007F at position 4)"),
    ],
)
def test_control_characters_in_names_are_refused_in_the_batch(
    message: dict[str, object], needle: str
) -> None:
    collected = collect_batch({"batch": [page(), message]}, received_at=RECEIVED, client_ip=None)

    assert [e.message_id for e in collected.events] == ["m-1"]
    assert [m.index for m in collected.invalid] == [1]
    assert needle in collected.invalid[0].reason


def test_names_with_accents_and_emoji_are_accepted() -> None:
    outcome = collect_message(page(name="Café ☕ — Übersicht"), index=0, received_at=RECEIVED, client_ip=None)

    assert isinstance(outcome, CollectedEvent)
