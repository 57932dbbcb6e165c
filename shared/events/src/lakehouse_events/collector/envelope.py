"""From an HTTP request body to the messages the collector hands to Kafka (pure, no I/O).

A request is refused as a whole (:class:`RequestRejected`) when it cannot be read at all: bad
gzip, too large, not JSON, not the shape of a Segment call. Inside a well-formed batch, each
message stands on its own: valid messages are accepted and invalid ones are returned as
:class:`InvalidMessage` with the reason, so one bad event never costs the good ones.
"""

from __future__ import annotations

import ipaddress
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from lakehouse_events.segment import (
    IMPORT_FIELD,
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    MessageType,
    SegmentMessage,
)


class RequestRejected(Exception):  # noqa: N818 - it is a verdict, not an error of ours
    """The whole request is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CollectedEvent:
    """One accepted message, ready for Kafka."""

    key: bytes
    value: bytes
    message_id: str


@dataclass(frozen=True)
class InvalidMessage:
    index: int
    reason: str
    raw: bytes


@dataclass(frozen=True)
class Collected:
    events: list[CollectedEvent] = field(default_factory=list)
    invalid: list[InvalidMessage] = field(default_factory=list)


def decode_body(body: bytes, content_encoding: str | None, *, limit: int) -> bytes:
    """Undo ``Content-Encoding: gzip`` (or deflate) and enforce the size limit on the result,
    so a small compressed body cannot expand beyond what the spec allows."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        decoded = body
    elif encoding in ("gzip", "deflate"):
        window = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        inflater = zlib.decompressobj(window)
        try:
            decoded = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise RequestRejected(400, f"body is not valid {encoding}: {exc}") from exc
        if len(decoded) <= limit and not inflater.eof:
            raise RequestRejected(400, f"body is truncated {encoding} data")
    else:
        raise RequestRejected(415, f"unsupported Content-Encoding {content_encoding!r}; use gzip or none")
    if len(decoded) > limit:
        raise RequestRejected(413, f"body is larger than {limit} bytes after decompression")
    return decoded


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, proxies: Sequence[IpNetwork]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: Sequence[IpNetwork]
) -> str | None:
    """The client's IP: the peer's, unless the peer is a trusted proxy; then the right-most
    ``X-Forwarded-For`` hop that is not itself a trusted proxy. Hops left of it were written by
    whoever sent the request and prove nothing; a hop that is not an IP address ends the walk
    at the nearest trusted proxy."""
    if peer is None or not forwarded_for or not _trusted(peer, trusted_proxies):
        return peer
    nearest = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        if _address(hop) is None:
            return nearest
        if not _trusted(hop, trusted_proxies):
            return hop
        nearest = hop
    return nearest


def parse_json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestRejected(400, f"body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise RequestRejected(400, f"body must be a JSON object, got {type(payload).__name__}")
    return payload


def _merged(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def describe_validation_error(error: ValidationError) -> str:
    """Each problem as ``<field path>: <what is wrong>``, joined by ``; ``."""
    parts = []
    for problem in error.errors(include_url=False):
        where = ".".join(str(p) for p in problem["loc"]) or "message"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


def envelope(
    message: Mapping[str, Any],
    *,
    received_at: datetime,
    client_ip: str | None,
    batch_context: Mapping[str, Any] | None = None,
    batch_sent_at: str | None = None,
) -> dict[str, Any]:
    """The message as Kafka stores it (see :class:`lakehouse_events.segment.CollectedMessage`).

    A client's own ``_import`` marker is dropped: only a product's ``import`` command marks
    history, so no SDK can widen the event-time window for its events."""
    out = {k: v for k, v in message.items() if k not in ("writeKey", IMPORT_FIELD)}
    context = _merged(batch_context or {}, out.get("context") or {})
    if client_ip and not context.get("ip"):
        context["ip"] = client_ip
    if context:
        out["context"] = context
    if batch_sent_at and not out.get("sentAt"):
        out["sentAt"] = batch_sent_at
    if not out.get("messageId"):
        out["messageId"] = f"collector-{uuid.uuid4()}"
    out["receivedAt"] = received_at.isoformat().replace("+00:00", "Z")
    return out


_ID_FIELDS = ("userId", "anonymousId", "previousId", "groupId")


def ids_as_strings(raw: Mapping[str, Any], message: SegmentMessage) -> Mapping[str, Any]:
    """The message with numeric ids as the strings the contract read them as, so Kafka, the
    Kafka key and silver all hold the same text (``4711`` → ``"4711"``)."""
    ids = {"userId": message.user_id, "anonymousId": message.anonymous_id}
    ids |= {"previousId": message.previous_id, "groupId": message.group_id}
    numeric = {f: ids[f] for f in _ID_FIELDS if isinstance(raw.get(f), int)}
    return {**raw, **numeric} if numeric else raw


def collect_message(
    raw: Mapping[str, Any],
    *,
    index: int,
    received_at: datetime,
    client_ip: str | None,
    batch_context: Mapping[str, Any] | None = None,
    batch_sent_at: str | None = None,
    expected_type: MessageType | None = None,
) -> CollectedEvent | InvalidMessage:
    """Validate one message against the Segment contract and wrap it for Kafka."""
    raw_bytes = orjson.dumps(raw)
    if len(raw_bytes) > MAX_MESSAGE_BYTES:
        reason = f"message is {len(raw_bytes)} bytes; the limit is {MAX_MESSAGE_BYTES}"
        return InvalidMessage(index, reason, raw_bytes)
    if expected_type is not None:
        raw = {**raw, "type": raw.get("type") or expected_type}
        if raw["type"] != expected_type:
            reason = f"type {raw['type']!r} sent to the {expected_type} endpoint"
            return InvalidMessage(index, reason, raw_bytes)
    try:
        message = SegmentMessage.model_validate(raw)
    except ValidationError as exc:
        return InvalidMessage(index, describe_validation_error(exc), raw_bytes)
    wrapped = envelope(
        ids_as_strings(raw, message),
        received_at=received_at,
        client_ip=client_ip,
        batch_context=batch_context,
        batch_sent_at=batch_sent_at,
    )
    key = (message.user_id or message.anonymous_id or "").encode()
    return CollectedEvent(key=key, value=orjson.dumps(wrapped), message_id=str(wrapped["messageId"]))


def collect_batch(payload: Mapping[str, Any], *, received_at: datetime, client_ip: str | None) -> Collected:
    """A ``/v1/batch`` body: ``{"batch": [...], "context"?: {...}, "sentAt"?: "..."}``."""
    messages = payload.get("batch")
    if not isinstance(messages, list) or not messages:
        raise RequestRejected(400, "a batch request needs a non-empty 'batch' array")
    batch_context = payload.get("context") if isinstance(payload.get("context"), Mapping) else None
    batch_sent_at = payload.get("sentAt") if isinstance(payload.get("sentAt"), str) else None
    collected = Collected()
    for index, raw in enumerate(messages):
        if not isinstance(raw, Mapping):
            collected.invalid.append(
                InvalidMessage(index, f"batch[{index}] is not a JSON object", orjson.dumps(raw))
            )
            continue
        outcome = collect_message(
            raw,
            index=index,
            received_at=received_at,
            client_ip=client_ip,
            batch_context=batch_context,
            batch_sent_at=batch_sent_at,
        )
        if isinstance(outcome, CollectedEvent):
            collected.events.append(outcome)
        else:
            collected.invalid.append(outcome)
    return collected


__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_MESSAGE_BYTES",
    "Collected",
    "CollectedEvent",
    "InvalidMessage",
    "IpNetwork",
    "RequestRejected",
    "client_address",
    "collect_batch",
    "collect_message",
    "decode_body",
    "describe_validation_error",
    "ids_as_strings",
    "parse_json_object",
]
