"""The collector against a real Kafka broker, over real HTTP (uvicorn on a local port)."""

import asyncio
import gzip
import ipaddress
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from confluent_kafka.admin import ConfigResource
from pydantic import Field

from lakehouse_core.config import CollectorSettings, ProductConfig, load_config
from lakehouse_core.kafka.admin import TopicSpec, admin_client, ensure_topics
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.kafka.producer import EventProducer
from lakehouse_events.collector import CollectorConfig, create_collector_app, product_collector_app
from lakehouse_testing.plugin import KafkaFixture, free_port, serve_in_thread

pytestmark = pytest.mark.integration

WRITE_KEY = "wk-test"
AUTH = (WRITE_KEY, "")


def config(bootstrap: str, topic: str, **overrides: object) -> CollectorConfig:
    values: dict[str, object] = {
        "service": "test-collector",
        "version": "0",
        "bootstrap_servers": bootstrap,
        "events_topic": topic,
        "dead_letter_topic": f"{topic}.dlq",
        "write_keys": [WRITE_KEY],
        **overrides,
    }
    return CollectorConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def collector(kafka_broker: KafkaFixture, unique_topic: str) -> Iterator[tuple[str, str]]:
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic, partitions=3), TopicSpec(f"{unique_topic}.dlq")])
    with serve_in_thread(create_collector_app(config(bootstrap, unique_topic))) as url:
        yield url, unique_topic


def drain(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
    consumer = build_consumer(bootstrap, group_id=f"check-{topic}", topics=[topic])
    try:
        return [
            (m.key(), m.value(), dict(m.headers() or []))
            for batch in consume_batches(consumer, idle_timeout=2, first_message_timeout=20)
            for m in batch
        ]
    finally:
        consumer.close()


def test_a_gzipped_batch_lands_in_kafka_keyed_by_user(
    collector: tuple[str, str], kafka_broker: KafkaFixture
) -> None:
    url, topic = collector
    body = {
        "batch": [
            {"type": "page", "messageId": "p1", "anonymousId": "anon-1", "properties": {"path": "/"}},
            {"type": "track", "messageId": "t1", "userId": "user-1", "event": "Signed Up"},
            {"type": "identify", "messageId": "i1", "userId": "user-1", "traits": {"plan": "pro"}},
            {"type": "track", "messageId": "bad", "anonymousId": "anon-2"},
        ],
        "sentAt": "2026-03-01T10:00:00Z",
        "context": {"library": {"name": "analytics-python"}},
    }
    response = httpx.post(
        f"{url}/v1/batch",
        content=gzip.compress(orjson.dumps(body)),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        auth=AUTH,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    assert [r["index"] for r in response.json()["rejected"]] == [3]

    events = drain(kafka_broker.bootstrap_servers, topic)
    by_id = {(value := orjson.loads(raw))["messageId"]: (key, value) for key, raw, _ in events}
    assert set(by_id) == {"p1", "t1", "i1"}
    assert by_id["p1"][0] == b"anon-1"
    assert by_id["t1"][0] == by_id["i1"][0] == b"user-1"
    page = by_id["p1"][1]
    assert page["sentAt"] == "2026-03-01T10:00:00Z"
    assert page["context"] == {"library": {"name": "analytics-python"}, "ip": "127.0.0.1"}
    assert "receivedAt" in page

    dead = drain(kafka_broker.bootstrap_servers, f"{topic}.dlq")
    assert len(dead) == 1
    assert orjson.loads(dead[0][1])["messageId"] == "bad"
    assert b"event name" in dead[0][2]["reason"]


def test_single_call_endpoints(collector: tuple[str, str], kafka_broker: KafkaFixture) -> None:
    url, topic = collector
    ok = httpx.post(f"{url}/v1/track", json={"userId": "u", "event": "Clicked", "messageId": "s1"}, auth=AUTH)
    bad = httpx.post(f"{url}/v1/track", json={"userId": "u"}, auth=AUTH)
    wrong_type = httpx.post(f"{url}/v1/identify", json={"type": "page", "userId": "u"}, auth=AUTH)
    assert ok.status_code == 200
    assert (bad.status_code, wrong_type.status_code) == (400, 400)
    assert "event name" in bad.json()["error"]
    assert [orjson.loads(v)["messageId"] for _, v, _ in drain(kafka_broker.bootstrap_servers, topic)] == [
        "s1"
    ]
    assert len(drain(kafka_broker.bootstrap_servers, f"{topic}.dlq")) == 2


def test_write_keys(collector: tuple[str, str]) -> None:
    url, _ = collector
    message = {"type": "page", "anonymousId": "a"}
    assert httpx.post(f"{url}/v1/page", json=message).status_code == 401
    assert httpx.post(f"{url}/v1/page", json=message, auth=("wrong", "")).status_code == 401
    assert httpx.post(f"{url}/v1/batch", json={"batch": [message], "writeKey": WRITE_KEY}).status_code == 200
    assert httpx.post(f"{url}/v1/batch", json={"batch": [message], "writeKey": "nope"}).status_code == 401


def test_size_limits_and_malformed_bodies(collector: tuple[str, str], kafka_broker: KafkaFixture) -> None:
    url, topic = collector
    message = {"type": "page", "anonymousId": "a", "properties": {"x": "y" * 20_000}}
    rudderstack_sized = {"batch": [message] * 150}
    huge_batch = {"batch": [message] * 220}
    too_big_single = {"type": "page", "anonymousId": "a", "properties": {"x": "y" * 40_000}}
    accepted = httpx.post(f"{url}/v1/batch", json=rudderstack_sized, auth=AUTH)
    assert (accepted.status_code, accepted.json()["accepted"]) == (200, 150)
    too_large = httpx.post(f"{url}/v1/batch", json=huge_batch, auth=AUTH)
    assert too_large.status_code == 413
    assert too_large.json()["message"] == f"body is larger than {4 * 1024 * 1024} bytes"
    assert httpx.post(f"{url}/v1/page", json=too_big_single, auth=AUTH).status_code == 413
    invalid = httpx.post(f"{url}/v1/batch", content=b'{"batch": [', auth=AUTH)
    assert invalid.status_code == 400
    assert "not valid JSON" in invalid.json()["error"]
    dead = drain(kafka_broker.bootstrap_servers, f"{topic}.dlq")
    assert [(d[1], d[2]["reason"][:22]) for d in dead] == [(b'{"batch": [', b"body is not valid JSON")]


DELIVERY_ERRORS = 'lakehouse_kafka_producer_delivery_errors_total{topic="'


def metrics_once_delivery_failed(url: str, timeout_s: float = 15.0) -> str:
    """The collector's metrics once the producer's failed delivery report has arrived: the 503
    may come first, when the collector's own wait for the acknowledgement ends before the
    client's message timeout does."""
    deadline = time.monotonic() + timeout_s
    while (
        DELIVERY_ERRORS not in (metrics := httpx.get(f"{url}/metrics").text) and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    return metrics


def test_503_when_kafka_does_not_acknowledge(unique_topic: str) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    producer = EventProducer(nowhere, **{"delivery.timeout.ms": 1500, "message.timeout.ms": 1500})
    app = create_collector_app(config(nowhere, unique_topic, ack_timeout_seconds=5.0), producer=producer)
    try:
        with serve_in_thread(app) as url:
            response = httpx.post(
                f"{url}/v1/page", json={"type": "page", "anonymousId": "a"}, auth=AUTH, timeout=20
            )
            ready = httpx.get(f"{url}/ready", timeout=20)
            metrics = metrics_once_delivery_failed(url)
    finally:
        producer.close(timeout=1)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "did not acknowledge" in response.json()["error"]
    assert response.json()["code"] == "unavailable"
    assert response.json()["message"] == response.json()["error"]
    assert ready.status_code == 503
    assert 'lakehouse_collector_events_total{outcome="unavailable"} 1.0' in metrics
    assert 'lakehouse_collector_rejected_requests_total{code="unavailable"} 1.0' in metrics
    assert DELIVERY_ERRORS in metrics


def test_a_chunked_body_is_refused_once_it_passes_the_limit(unique_topic: str) -> None:
    """No Content-Length: the collector stops reading at the limit instead of buffering it all."""
    limit = 64 * 1024
    nowhere = f"127.0.0.1:{free_port()}"
    producer = EventProducer(nowhere, log_level=0)
    app = create_collector_app(config(nowhere, unique_topic, max_batch_bytes=limit), producer=producer)
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"batch": ['
        while sent < 100 * limit:
            sent += 8 * 1024
            yield b" " * (8 * 1024)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://collector") as client:
            return await client.post("/v1/batch", content=endless(), auth=AUTH)

    try:
        response = asyncio.run(post())
    finally:
        producer.close(timeout=0)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert sent <= limit + 8 * 1024


def test_a_chunked_body_over_the_limit_over_real_http(unique_topic: str) -> None:
    app = create_collector_app(config(f"127.0.0.1:{free_port()}", unique_topic, max_batch_bytes=64 * 1024))

    def chunks() -> Iterator[bytes]:
        yield b'{"batch": ['
        for _ in range(16):
            yield b" " * (8 * 1024)

    with serve_in_thread(app) as url:
        try:
            response = httpx.post(f"{url}/v1/batch", content=chunks(), auth=AUTH)
        except httpx.TransportError:  # the server may close before the client finished sending
            return
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert response.status_code == 413


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    kafka_broker: KafkaFixture, unique_topic: str
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic), TopicSpec(f"{unique_topic}.dlq")])
    forged = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    direct = create_collector_app(config(bootstrap, unique_topic))
    behind_proxy = create_collector_app(
        config(bootstrap, unique_topic, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    )
    for app, message_id in ((direct, "direct"), (behind_proxy, "proxied")):
        with serve_in_thread(app) as url:
            message = {"type": "page", "anonymousId": "a", "messageId": message_id}
            assert httpx.post(f"{url}/v1/page", json=message, headers=forged, auth=AUTH).status_code == 200
    ips = {
        (event := orjson.loads(raw))["messageId"]: event["context"]["ip"]
        for _, raw, _ in drain(bootstrap, unique_topic)
    }
    assert ips == {"direct": "127.0.0.1", "proxied": "203.0.113.9"}


class DemoConfig(ProductConfig):
    collector: CollectorSettings = Field(default_factory=CollectorSettings)


def test_the_collector_creates_its_topics_and_is_ready_once_it_can_produce(
    kafka_broker: KafkaFixture, unique_topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    (tmp_path / "product.yaml").write_text(
        "name: lakehouse-core\nowner: o\nteam: t\ntopics:\n"
        f"  events: {{name: {unique_topic}, partitions: 2, retention_ms: 3600000}}\n"
        f"  dead_letter: {{name: {unique_topic}.dlq, partitions: 1}}\n"
    )
    monkeypatch.setenv("DEMO_COLLECTOR__WRITE_KEYS", f'["{WRITE_KEY}"]')
    product = load_config(DemoConfig, tmp_path, env_prefix="DEMO_")
    with serve_in_thread(
        product_collector_app(product, product.collector, bootstrap_servers=bootstrap)
    ) as url:
        ready = httpx.get(f"{url}/ready", timeout=20)
        first = httpx.post(f"{url}/v1/page", json={"type": "page", "anonymousId": "a"}, auth=AUTH, timeout=20)
    assert ready.status_code == 200, ready.text
    assert first.status_code == 200, first.text
    admin = admin_client(bootstrap)
    metadata = admin.list_topics(timeout=10).topics
    assert (len(metadata[unique_topic].partitions), len(metadata[f"{unique_topic}.dlq"].partitions)) == (2, 1)
    resource = ConfigResource("topic", unique_topic)
    described = admin.describe_configs([resource])[resource].result(timeout=10)
    assert described["retention.ms"].value == "3600000"


def test_not_ready_while_its_topics_do_not_exist(kafka_broker: KafkaFixture, unique_topic: str) -> None:
    with serve_in_thread(create_collector_app(config(kafka_broker.bootstrap_servers, unique_topic))) as url:
        ready = httpx.get(f"{url}/ready", timeout=20)
    assert ready.status_code == 503
    assert f"topic {unique_topic} does not exist" in ready.text


def test_segment_sdks_short_paths_are_served(collector: tuple[str, str], kafka_broker: KafkaFixture) -> None:
    """analytics.js posts single calls to /v1/t, /v1/p, ... with the write key in the body;
    analytics-swift and analytics-kotlin post batches to <apiHost>/b."""
    url, topic = collector
    track = {"messageId": "short-t", "anonymousId": "a1", "event": "Clicked", "writeKey": WRITE_KEY}
    page = {"messageId": "short-p", "anonymousId": "a1", "writeKey": WRITE_KEY}
    assert httpx.post(f"{url}/v1/t", content=orjson.dumps(track)).status_code == 200
    assert httpx.post(f"{url}/v1/p", content=orjson.dumps(page)).status_code == 200
    batch = {"batch": [{"type": "screen", "messageId": "short-b", "anonymousId": "a2", "name": "Home"}]}
    assert httpx.post(f"{url}/v1/b", content=orjson.dumps(batch), auth=AUTH).status_code == 200
    assert httpx.post(f"{url}/v1/t", content=orjson.dumps({**track, "writeKey": "wrong"})).status_code == 401
    stored = {
        orjson.loads(value)["messageId"]: orjson.loads(value)
        for _, value, _ in drain(kafka_broker.bootstrap_servers, topic)
    }
    assert set(stored) == {"short-t", "short-p", "short-b"}
    assert (stored["short-t"]["type"], stored["short-p"]["type"]) == ("track", "page")
    assert "writeKey" not in stored["short-t"]
