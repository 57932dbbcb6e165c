"""A client of the Segment HTTP Tracking API's batch endpoint, as the SDKs post to it.

Messages are packed into batches within the spec's limits (per message, per batch, and a
message count), gzip-compressed and posted to ``{base_url}/v1/batch`` with the write key as
the Basic-auth user name. Throttling (429), server errors (5xx) and connection failures are
retried with exponential backoff; a retry re-sends the same ``messageId`` s, so the receiving
side's deduplication makes it safe. Any other 4xx is the caller's mistake and raises at once
with the server's message.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from lakehouse_core.errors import LakehouseError
from lakehouse_events.segment import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH_MESSAGES = 100

#: The batch envelope around the messages: ``{"batch":[...],"sentAt":"<timestamp>"}``.
_ENVELOPE_BYTES = len(b'{"batch":[],"sentAt":""}') + len("2000-01-01T00:00:00.000000+00:00")


class SegmentClientError(LakehouseError):
    """Sending to a Segment-compatible endpoint failed."""


class MessageTooLargeError(SegmentClientError):
    """A message is bigger than the spec allows; nothing was sent."""

    def __init__(self, index: int, size: int, message_id: object) -> None:
        super().__init__(
            f"message #{index} (messageId {message_id!r}) is {size} bytes as JSON; "
            f"the limit is {MAX_MESSAGE_BYTES} bytes"
        )
        self.index = index
        self.size = size


@dataclass(frozen=True)
class SendReport:
    """What a :meth:`SegmentClient.send` call did. ``payload_bytes`` counts the uncompressed
    JSON of the accepted batches, ``bytes_sent`` the compressed bodies of every attempt."""

    messages: int = 0
    batches: int = 0
    retries: int = 0
    payload_bytes: int = 0
    bytes_sent: int = 0

    def __add__(self, other: SendReport) -> SendReport:
        return SendReport(
            self.messages + other.messages,
            self.batches + other.batches,
            self.retries + other.retries,
            self.payload_bytes + other.payload_bytes,
            self.bytes_sent + other.bytes_sent,
        )


class SegmentRequestError(SegmentClientError):
    """The endpoint refused a batch, or did not take it within the allowed attempts.

    ``status`` is the last HTTP status (``None`` after a connection failure) and ``report``
    what was delivered before the failure.
    """

    def __init__(self, message: str, *, status: int | None, report: SendReport) -> None:
        super().__init__(message)
        self.status = status
        self.report = report


def encode_messages(messages: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """Each message as compact JSON; raises :class:`MessageTooLargeError` for one over the limit."""
    encoded = []
    for index, message in enumerate(messages):
        payload = orjson.dumps(dict(message))
        if len(payload) > MAX_MESSAGE_BYTES:
            raise MessageTooLargeError(index, len(payload), message.get("messageId"))
        encoded.append(payload)
    return encoded


def pack_batches(
    encoded: Sequence[bytes],
    *,
    max_messages: int = DEFAULT_MAX_BATCH_MESSAGES,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[list[bytes]]:
    """Group encoded messages, in order, into batches whose request body (envelope, commas and
    ``sentAt`` included) stays within ``max_bytes`` and that hold at most ``max_messages``."""
    batch: list[bytes] = []
    size = _ENVELOPE_BYTES
    for payload in encoded:
        added = len(payload) + (1 if batch else 0)
        if batch and (len(batch) >= max_messages or size + added > max_bytes):
            yield batch
            batch, size, added = [], _ENVELOPE_BYTES, len(payload)
        batch.append(payload)
        size += added
    if batch:
        yield batch


def batch_body(batch: Sequence[bytes], sent_at: datetime) -> bytes:
    """The uncompressed JSON request body of one batch."""
    return b'{"batch":[' + b",".join(batch) + b'],"sentAt":' + orjson.dumps(sent_at) + b"}"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


class SegmentClient:
    """Sends tracking messages to a Segment-compatible collector; reusable across calls."""

    def __init__(
        self,
        base_url: str,
        write_key: str,
        *,
        timeout: float = 10.0,
        max_attempts: int = 5,
        max_batch_messages: int = DEFAULT_MAX_BATCH_MESSAGES,
        backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        if max_batch_messages < 1:
            raise ValueError(f"max_batch_messages must be at least 1, got {max_batch_messages}")
        self.url = f"{base_url.rstrip('/')}/v1/batch"
        self.max_attempts = max_attempts
        self.max_batch_messages = max_batch_messages
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(
            auth=httpx.BasicAuth(write_key, ""),
            timeout=timeout,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )

    def send(self, messages: Iterable[Mapping[str, Any]]) -> SendReport:
        """Send every message; returns once the endpoint accepted all batches.

        All messages are checked against the size limit before the first request, so a
        refused message means nothing was sent.
        """
        report = SendReport()
        for batch in pack_batches(encode_messages(messages), max_messages=self.max_batch_messages):
            report += self._post(batch, delivered=report)
        return report

    def _post(self, batch: Sequence[bytes], *, delivered: SendReport) -> SendReport:
        bytes_sent = 0
        for attempt in range(1, self.max_attempts + 1):
            body = batch_body(batch, self._clock())
            compressed = gzip.compress(body)
            bytes_sent += len(compressed)
            status: int | None = None
            wait: float | None = None
            try:
                response = self._http.post(self.url, content=compressed)
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                status = response.status_code
                if response.is_success:
                    return SendReport(len(batch), 1, attempt - 1, len(body), bytes_sent)
                problem = f"HTTP {status}: {response.text.strip()[:500]}"
                if status != 429 and status < 500:
                    raise SegmentRequestError(
                        f"{self.url} refused a batch of {len(batch)} messages: {problem}",
                        status=status,
                        report=delivered,
                    )
                wait = _retry_after(response)
            if attempt == self.max_attempts:
                raise SegmentRequestError(
                    f"{self.url} did not take a batch of {len(batch)} messages "
                    f"in {self.max_attempts} attempts; last: {problem}",
                    status=status,
                    report=delivered,
                )
            if wait is None:
                wait = self.backoff_seconds * 2 ** (attempt - 1)
            wait = min(wait, self.max_backoff_seconds)
            log.warning(
                "batch not accepted, retrying",
                extra={"url": self.url, "attempt": attempt, "problem": problem, "retry_in_seconds": wait},
            )
            self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SegmentClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def as_replay(message: Mapping[str, Any]) -> dict[str, Any]:
    """The message without its own ``sentAt``, for sending recorded or generated events later.

    The collector corrects device clocks with ``receivedAt - (sentAt - originalTimestamp)``;
    a message replayed days after its SDK sent it would be shifted to the replay day. Without
    its own ``sentAt``, the batch's (the moment of the replay) applies and the event keeps its
    ``originalTimestamp``.
    """
    return {key: value for key, value in message.items() if key != "sentAt"}
