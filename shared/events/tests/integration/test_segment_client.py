"""The Segment client against a real HTTP server answering scripted statuses."""

from __future__ import annotations

import base64
import gzip
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from lakehouse_events.segment import MAX_MESSAGE_BYTES
from lakehouse_events.segment_client import (
    MessageTooLargeError,
    SegmentClient,
    SegmentRequestError,
    SendReport,
)
from lakehouse_testing.plugin import free_port

pytestmark = pytest.mark.integration

SENT_AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    compressed: bytes

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(gzip.decompress(self.compressed))  # type: ignore[no-any-return]

    @property
    def message_ids(self) -> list[str]:
        return [m["messageId"] for m in self.body["batch"]]


@dataclass
class FakeCollector:
    """Records every request; answers with the scripted replies in order, then 200."""

    url: str
    received: list[Received] = field(default_factory=list)
    replies: list[tuple[int, dict[str, str], str]] = field(default_factory=list)


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    state = FakeCollector(f"http://127.0.0.1:{server.server_address[1]}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            state.received.append(Received(self.path, dict(self.headers.items()), self.rfile.read(length)))
            status, headers, text = state.replies.pop(0) if state.replies else (200, {}, '{"success":true}')
            payload = text.encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def messages(count: int) -> list[dict[str, Any]]:
    return [
        {"type": "track", "event": "Clicked", "messageId": f"id-{i}", "anonymousId": "anon-1"}
        for i in range(count)
    ]


def client(url: str, waits: list[float], **options: Any) -> SegmentClient:
    return SegmentClient(url, "write-key-1", sleep=waits.append, clock=lambda: SENT_AT, **options)


def test_messages_arrive_in_gzip_batches_with_basic_auth_and_sent_at(collector: FakeCollector) -> None:
    waits: list[float] = []
    with client(collector.url + "/", waits) as segment:
        report = segment.send(messages(250))

    assert [r.path for r in collector.received] == ["/v1/batch"] * 3
    first = collector.received[0]
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(b"write-key-1:").decode()
    assert first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Content-Type"] == "application/json"
    assert [len(r.body["batch"]) for r in collector.received] == [100, 100, 50]
    assert {r.body["sentAt"] for r in collector.received} == {"2024-05-01T12:00:00+00:00"}
    assert [i for r in collector.received for i in r.message_ids] == [f"id-{i}" for i in range(250)]
    assert collector.received[2].body["batch"][0] == {
        "type": "track",
        "event": "Clicked",
        "messageId": "id-200",
        "anonymousId": "anon-1",
    }
    assert report == SendReport(
        messages=250,
        batches=3,
        retries=0,
        payload_bytes=sum(len(gzip.decompress(r.compressed)) for r in collector.received),
        bytes_sent=sum(len(r.compressed) for r in collector.received),
    )
    assert waits == []


def test_throttling_and_server_errors_are_retried_with_the_same_message_ids(
    collector: FakeCollector,
) -> None:
    collector.replies = [(503, {}, "unavailable"), (429, {"Retry-After": "2"}, "slow down")]
    waits: list[float] = []
    with client(collector.url, waits) as segment:
        report = segment.send(messages(3))

    assert len(collector.received) == 3
    assert [r.message_ids for r in collector.received] == [["id-0", "id-1", "id-2"]] * 3
    assert waits == [0.5, 2.0]
    assert (report.messages, report.batches, report.retries) == (3, 1, 2)
    assert report.bytes_sent == sum(len(r.compressed) for r in collector.received)


def test_a_client_error_raises_at_once_with_the_servers_message(collector: FakeCollector) -> None:
    collector.replies = [(401, {}, '{"error":"invalid write key"}')]
    waits: list[float] = []
    with client(collector.url, waits) as segment, pytest.raises(SegmentRequestError) as error:
        segment.send(messages(3))

    assert "HTTP 401" in str(error.value)
    assert '{"error":"invalid write key"}' in str(error.value)
    assert error.value.status == 401
    assert len(collector.received) == 1
    assert waits == []


def test_giving_up_reports_what_was_delivered_before(collector: FakeCollector) -> None:
    collector.replies = [(200, {}, "{}"), (500, {}, "db down"), (502, {}, "bad gateway")]
    waits: list[float] = []
    with (
        client(collector.url, waits, max_attempts=2, max_batch_messages=2) as segment,
        pytest.raises(SegmentRequestError, match="in 2 attempts; last: HTTP 502: bad gateway") as error,
    ):
        segment.send(messages(3))

    assert error.value.status == 502
    assert (error.value.report.messages, error.value.report.batches) == (2, 1)
    assert [r.message_ids for r in collector.received] == [["id-0", "id-1"], ["id-2"], ["id-2"]]
    assert waits == [0.5]


def test_connection_failures_are_retried_then_raised() -> None:
    waits: list[float] = []
    with (
        client(f"http://127.0.0.1:{free_port()}", waits, max_attempts=3, timeout=2.0) as segment,
        pytest.raises(SegmentRequestError, match="in 3 attempts; last: ConnectError") as error,
    ):
        segment.send(messages(1))
    assert error.value.status is None
    assert waits == [0.5, 1.0]


def test_an_oversized_message_is_refused_before_anything_is_sent(collector: FakeCollector) -> None:
    oversized = {
        "type": "track",
        "event": "Big",
        "messageId": "big",
        "properties": {"blob": "x" * MAX_MESSAGE_BYTES},
    }
    with client(collector.url, []) as segment, pytest.raises(MessageTooLargeError, match="messageId 'big'"):
        segment.send([*messages(5), oversized])
    assert collector.received == []
