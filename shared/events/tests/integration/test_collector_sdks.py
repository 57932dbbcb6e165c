"""What the real Segment and RudderStack Python SDKs make of each error the collector answers.

Each case serves a collector over real HTTP, sends one event through the SDK's own queue and
consumer thread (small retry settings), and checks what the SDK reported to its ``on_error``
callback and how many requests the collector saw (retries included). 400 and 415 need a body
the SDKs never produce on their own, so those cases add a ``Content-Encoding`` header to the
SDK's HTTP session: plain JSON labelled gzip (400), and an encoding the collector does not
support (415). 503 comes from a collector whose broker address is a closed local port.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import rudderstack.analytics.request as rudder_request
import segment.analytics.request as segment_request
from rudderstack.analytics import Client as RudderClient
from segment.analytics import Client as SegmentClient

from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.producer import EventProducer
from lakehouse_events.collector import CollectorConfig, create_collector_app
from lakehouse_testing.plugin import KafkaFixture, free_port, serve_in_thread

pytestmark = pytest.mark.integration

WRITE_KEY = "wk-sdk"
SERVICE = "sdk-collector"


@dataclass
class Errors:
    seen: list[Exception]

    def __call__(self, error: Exception, batch: object) -> None:
        self.seen.append(error)


def segment_client(url: str, key: str, on_error: Errors) -> Any:
    return SegmentClient(
        key,
        host=url,
        on_error=on_error,
        max_retries=1,
        upload_interval=0.05,
        max_total_backoff_duration=5,
        max_rate_limit_duration=2,
    )


def rudder_client(url: str, key: str, on_error: Errors) -> Any:
    return RudderClient(key, host=url, on_error=on_error, max_retries=1, upload_interval=0.05, gzip=False)


SDKS: dict[str, tuple[Callable[[str, str, Errors], Any], Any]] = {
    "segment": (segment_client, segment_request),
    "rudderstack": (rudder_client, rudder_request),
}


def batch_requests(url: str, status: int) -> int:
    metrics = httpx.get(f"{url}/metrics").text
    pattern = rf'http_requests_total{{method="POST",route="/v1/batch",status="{status}"}} (\S+)'
    found = re.search(pattern, metrics)
    return int(float(found.group(1))) if found else 0


@contextmanager
def collector(bootstrap: str, topic: str, **overrides: Any) -> Iterator[str]:
    producer = EventProducer(bootstrap, **{"delivery.timeout.ms": 500, "log_level": 0})
    config = CollectorConfig(
        service=SERVICE,
        version="0",
        bootstrap_servers=bootstrap,
        events_topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        write_keys=[WRITE_KEY],
        ack_timeout_seconds=3.0,
        retry_after_seconds=1,
        **overrides,
    )
    try:
        with serve_in_thread(create_collector_app(config, producer=producer)) as url:
            yield url
    finally:
        producer.close(timeout=0)


def send_one(sdk: str, url: str, *, key: str = WRITE_KEY, size: int = 10) -> list[Exception]:
    make, _ = SDKS[sdk]
    errors = Errors([])
    client = make(url, key, errors)
    client.track(user_id="user-1", event="Clicked", properties={"padding": "x" * size})
    client.flush()
    client.join()
    return errors.seen


@pytest.fixture
def topics(kafka_broker: KafkaFixture, unique_topic: str) -> tuple[str, str]:
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic), TopicSpec(f"{unique_topic}.dlq")])
    return bootstrap, unique_topic


@pytest.mark.parametrize("sdk", SDKS)
def test_a_good_event_is_accepted(sdk: str, topics: tuple[str, str]) -> None:
    with collector(*topics) as url:
        assert send_one(sdk, url) == []
        assert batch_requests(url, 200) == 1


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str


def assert_refused(errors: list[Exception], expected: Refusal) -> None:
    assert len(errors) == 1, errors
    error = errors[0]
    assert (getattr(error, "status", None), getattr(error, "code", None)) == (expected.status, expected.code)
    assert expected.message in str(error.message)  # type: ignore[attr-defined]


@pytest.mark.parametrize("sdk", SDKS)
def test_401_is_reported_with_its_reason_and_not_retried(sdk: str, topics: tuple[str, str]) -> None:
    with collector(*topics) as url:
        errors = send_one(sdk, url, key="not-a-key")
        assert batch_requests(url, 401) == 1
    assert_refused(errors, Refusal(401, "unauthorized", "missing or unknown write key"))


@pytest.mark.parametrize("sdk", SDKS)
def test_413_is_reported_and_not_retried(sdk: str, topics: tuple[str, str]) -> None:
    with collector(*topics, max_batch_bytes=2048) as url:
        errors = send_one(sdk, url, size=4096)
        assert batch_requests(url, 413) == 1
    assert_refused(errors, Refusal(413, "payload_too_large", "body is larger than 2048 bytes"))


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("gzip", Refusal(400, "invalid_request", "body is not valid gzip")),
        ("br", Refusal(415, "unsupported_media_type", "unsupported Content-Encoding 'br'")),
    ],
)
@pytest.mark.parametrize("sdk", SDKS)
def test_400_and_415_are_reported_and_not_retried(
    sdk: str, encoding: str, expected: Refusal, topics: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(SDKS[sdk][1]._session.headers, "Content-Encoding", encoding)
    with collector(*topics) as url:
        errors = send_one(sdk, url)
        assert batch_requests(url, expected.status) == 1
    assert_refused(errors, expected)


def test_503_is_retried_by_rudderstack_then_reported(unique_topic: str) -> None:
    with collector(f"127.0.0.1:{free_port()}", unique_topic) as url:
        errors = send_one("rudderstack", url)
        assert batch_requests(url, 503) == 2
    assert_refused(errors, Refusal(503, "unavailable", "Kafka did not acknowledge 1 of 1 records"))


def test_503_is_retried_by_segment_after_retry_after_then_dropped(unique_topic: str) -> None:
    """Segment's SDK treats a 503 with ``Retry-After`` as a rate limit: it waits, retries and
    drops the batch only once ``max_rate_limit_duration`` (hours by default) is spent."""
    with collector(f"127.0.0.1:{free_port()}", unique_topic) as url:
        errors = send_one("segment", url)
        assert batch_requests(url, 503) >= 2
    assert [str(e) for e in errors] == ["Rate limit duration exceeded, batch dropped"]
