"""The event collector: the Segment HTTP Tracking API in front of a Kafka topic.

Tracking SDKs (Segment, RudderStack and compatible) post here unchanged. The collector answers
200 only after Kafka has acknowledged every accepted event, so a 200 is a promise that the
events are stored; while Kafka does not acknowledge, callers get 503 and retry (the SDKs do),
and the repeated ``messageId`` is deduplicated downstream.

Status codes: 400 malformed body (raw body goes to the dead-letter topic), 401 unknown or
missing write key, 413 too large, 415 unsupported encoding, 503 Kafka unavailable. Inside a
well-formed batch, invalid messages go to the dead-letter topic with the reason, are listed in
the response, and do not cost the valid ones. Errors answer
``{"success": false, "code": ..., "message": ..., "error": ...}``: Segment's and RudderStack's
SDKs read ``code`` and ``message``, and give up on a 4xx they can read instead of retrying it.

``/ready`` answers 200 only once the events and dead-letter topics exist with a leader for
every partition (the collector creates missing ones itself), so nothing is routed to a
collector that would answer 503.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import logging
import threading
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lakehouse_core.config import (
    DEFAULT_MAX_BATCH_BYTES,
    CollectorSettings,
    TopicConfig,
    require_outside_dev,
)
from lakehouse_core.errors import ConfigError
from lakehouse_core.health import HealthCheck
from lakehouse_core.kafka.admin import TopicSpec, admin_client, ensure_topics
from lakehouse_core.kafka.producer import EventProducer
from lakehouse_core.metrics import CollectorMetrics, ProducerMetrics, service_registry
from lakehouse_core.service import create_service_app
from lakehouse_events.collector.envelope import (
    Collected,
    CollectedEvent,
    InvalidMessage,
    IpNetwork,
    RequestRejected,
    client_address,
    collect_batch,
    collect_message,
    decode_body,
    parse_json_object,
)
from lakehouse_events.collector.openapi import (
    batch_schema,
    collector_responses,
    describe_payloads,
    single_call_schema,
    tracking_operation,
)
from lakehouse_events.segment import MAX_MESSAGE_BYTES, MESSAGE_TYPES, MessageType

if TYPE_CHECKING:
    from pydantic_settings import SettingsConfigDict

log = logging.getLogger(__name__)

#: The collector waits a little longer than the producer's own delivery timeout, so a broker
#: that never answers surfaces as the producer's failure rather than an abandoned wait.
PRODUCER_DELIVERY_TIMEOUT_MS = 10_000


@dataclass(frozen=True, kw_only=True)
class CollectorConfig:
    service: str
    version: str
    bootstrap_servers: str
    events_topic: str
    dead_letter_topic: str
    write_keys: Collection[str]
    ack_timeout_seconds: float = PRODUCER_DELIVERY_TIMEOUT_MS / 1000 + 5
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES
    trusted_proxies: Sequence[IpNetwork] = ()
    #: Created at start-up (and by ``/ready`` until they exist) when missing.
    topics: Sequence[TopicSpec] = ()
    retry_after_seconds: int = 5


#: The ``code`` of an error answer, by status: what SDKs show next to ``message``.
ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    413: "payload_too_large",
    415: "unsupported_media_type",
    503: "unavailable",
}


def error_body(status: int, reason: str) -> dict[str, object]:
    """An error answer both SDK families read: ``code`` and ``message`` (Segment, RudderStack),
    and ``success``/``error`` for callers of earlier versions."""
    return {"success": False, "code": ERROR_CODES.get(status, "error"), "message": reason, "error": reason}


def _rejection(status: int, reason: str, *, retry_after_seconds: int = 5) -> JSONResponse:
    headers = {"Retry-After": str(retry_after_seconds)} if status == 503 else None
    return JSONResponse(error_body(status, reason), status_code=status, headers=headers)


def _key_from_basic_auth(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user_and_password = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user_and_password.split(":", 1)[0]


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as more than ``limit`` bytes arrive: a declared
    ``Content-Length`` is checked first, a chunked body while it streams in."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestRejected(413, f"body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise RequestRejected(413, f"body is larger than {limit} bytes")
    return bytes(body)


UNAUTHORISED = "missing or unknown write key: send it as the HTTP Basic user name"


class _DeadLettered(Exception):  # noqa: N818 - control flow: the body went to the dead-letter topic
    def __init__(self, rejected: RequestRejected) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected


class Collector:
    """Request handling: authorise, decode, validate, hand to Kafka, answer."""

    def __init__(self, config: CollectorConfig, producer: EventProducer, metrics: CollectorMetrics) -> None:
        self.config = config
        self.kafka = producer
        self.outcomes = metrics.events
        self.rejected = metrics.rejected_requests
        self._write_keys = [k.encode() for k in config.write_keys]

    def authorised(self, candidate: object) -> bool:
        if not isinstance(candidate, str) or not candidate:
            return False
        encoded = candidate.encode()
        return any(hmac.compare_digest(encoded, key) for key in self._write_keys)

    async def handle(self, request: Request, *, limit: int, single: MessageType | None) -> JSONResponse:
        try:
            collected = await self._collect(request, limit=limit, single=single)
            await self._deliver(collected.events, collected.invalid)
        except _DeadLettered as dead:
            return self._refuse(dead.rejected)
        except RequestRejected as rejected:
            return self._refuse(rejected)
        self.outcomes.labels("accepted").inc(len(collected.events))
        self.outcomes.labels("dead_lettered").inc(len(collected.invalid))
        return JSONResponse(
            {
                "success": True,
                "accepted": len(collected.events),
                "rejected": [{"index": m.index, "reason": m.reason} for m in collected.invalid],
            }
        )

    def _refuse(self, rejected: RequestRejected) -> JSONResponse:
        self.rejected.labels(ERROR_CODES.get(rejected.status, "error")).inc()
        retry_after = self.config.retry_after_seconds
        return _rejection(rejected.status, rejected.reason, retry_after_seconds=retry_after)

    async def _collect(self, request: Request, *, limit: int, single: MessageType | None) -> Collected:
        received_at = datetime.now(UTC)
        header = request.headers.get("authorization")
        header_ok = self.authorised(_key_from_basic_auth(header))
        if header and not header_ok:
            raise RequestRejected(401, UNAUTHORISED)
        body = await _read_body(request, limit)
        try:
            decoded = decode_body(body, request.headers.get("content-encoding"), limit=limit)
            payload = parse_json_object(decoded)
        except RequestRejected as rejected:
            if not header_ok:
                raise RequestRejected(401, UNAUTHORISED) from rejected
            await self._dead_letter_body(rejected, body)
            raise
        if not header_ok and not self.authorised(payload.get("writeKey")):
            raise RequestRejected(401, UNAUTHORISED)
        client_ip = client_address(
            request.client.host if request.client else None,
            request.headers.get("x-forwarded-for"),
            self.config.trusted_proxies,
        )
        try:
            if single is None:
                return collect_batch(payload, received_at=received_at, client_ip=client_ip)
            outcome = collect_message(
                payload, index=0, received_at=received_at, client_ip=client_ip, expected_type=single
            )
            if isinstance(outcome, InvalidMessage):
                raise RequestRejected(400, outcome.reason)
            return Collected(events=[outcome])
        except RequestRejected as rejected:
            await self._dead_letter_body(rejected, decoded)
            raise

    async def _dead_letter_body(self, rejected: RequestRejected, body: bytes) -> None:
        """A malformed body is kept on the dead-letter topic before the 400 goes out."""
        if rejected.status != 400:
            return
        try:
            await self._deliver((), (), whole_body=body, reason=rejected.reason)
        except RequestRejected as unavailable:
            raise _DeadLettered(unavailable) from rejected
        self.outcomes.labels("dead_lettered").inc()
        raise _DeadLettered(rejected)

    async def _deliver(
        self,
        events: Sequence[CollectedEvent],
        invalid: Sequence[InvalidMessage],
        *,
        whole_body: bytes | None = None,
        reason: str = "",
    ) -> None:
        """Send and wait for Kafka's acknowledgement of every record; 503 if any is missing."""
        dead_letter = self.config.dead_letter_topic
        futures = [self.kafka.send(self.config.events_topic, e.value, key=e.key) for e in events]
        futures += [
            self.kafka.send(
                dead_letter, m.raw, headers=[("reason", m.reason.encode()), ("index", str(m.index).encode())]
            )
            for m in invalid
        ]
        if whole_body is not None:
            futures.append(self.kafka.send(dead_letter, whole_body, headers=[("reason", reason.encode())]))
        if not futures:
            return
        try:
            done = await asyncio.wait_for(
                asyncio.gather(*(asyncio.wrap_future(f) for f in futures), return_exceptions=True),
                timeout=self.config.ack_timeout_seconds,
            )
        except TimeoutError:
            done = [TimeoutError("no acknowledgement in time")]
        failures = [d for d in done if isinstance(d, BaseException)]
        if failures:
            self.outcomes.labels("unavailable").inc(len(events))
            raise RequestRejected(
                503, f"Kafka did not acknowledge {len(failures)} of {len(futures)} records: {failures[0]}"
            )


class TopicsReady:
    """The readiness probe: the collector's topics exist and every partition has a leader,
    read from the broker's metadata (a round-trip that fails while the broker is down or the
    topics are being created). Missing topics of ``config.topics`` are created first."""

    def __init__(self, config: CollectorConfig, *, timeout: float = 2.0) -> None:
        self.config = config
        self.timeout = timeout
        self._admin = admin_client(config.bootstrap_servers, quiet=True)
        self._lock = threading.Lock()

    def _problems(self) -> list[str]:
        metadata = self._admin.list_topics(timeout=self.timeout)
        problems = []
        for name in (self.config.events_topic, self.config.dead_letter_topic):
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None or not topic.partitions:
                problems.append(f"topic {name} does not exist")
            elif any(p.leader < 0 for p in topic.partitions.values()):
                problems.append(f"topic {name} has partitions without a leader")
        return problems

    def __call__(self) -> str:
        with self._lock:
            problems = self._problems()
            if problems and self.config.topics:
                created = ensure_topics(self.config.bootstrap_servers, self.config.topics, timeout=10.0)
                log.info("created topics %s", created)
                problems = self._problems()
        if problems:
            raise ConnectionError("; ".join(problems))
        return f"{self.config.events_topic} and {self.config.dead_letter_topic} can be written"


def create_collector_app(config: CollectorConfig, *, producer: EventProducer | None = None) -> FastAPI:
    """The collector service; it owns (and closes) its producer unless one is passed in.

    At start-up it creates its missing ``config.topics``; when the broker does not answer yet
    it starts anyway, not ready, and ``/ready`` retries."""
    owned = producer is None
    registry = service_registry()
    producer_metrics = ProducerMetrics.register(registry)
    kafka = producer or EventProducer(
        config.bootstrap_servers,
        metrics=producer_metrics,
        **{"delivery.timeout.ms": PRODUCER_DELIVERY_TIMEOUT_MS},
    )
    if kafka.metrics is None:
        kafka.metrics = producer_metrics
        producer_metrics.watch(kafka)
    topics_ready = TopicsReady(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if config.topics:
            try:
                await asyncio.to_thread(topics_ready)
            except Exception as exc:  # the broker may come up later; /ready says so meanwhile
                log.warning("%s: not ready at start-up: %s", config.service, exc)
        yield
        if owned:
            await asyncio.to_thread(kafka.close, 10.0)

    app = create_service_app(
        service=config.service,
        version=config.version,
        checks=[HealthCheck("kafka", topics_ready)],
        description="Segment-compatible HTTP tracking API; events go to Kafka.",
        lifespan=lifespan,
        registry=registry,
    )
    collector = Collector(config, kafka, CollectorMetrics.register(registry))
    app.state.collector = collector

    @app.post(
        "/v1/batch",
        tags=["tracking"],
        responses=collector_responses(),
        openapi_extra=tracking_operation(batch_schema(), limit_bytes=config.max_batch_bytes),
    )
    async def batch(request: Request) -> JSONResponse:
        """Several calls in one request: ``{"batch": [...]}``, at most ``max_batch_bytes`` (4 MiB by
        default), compressed or not."""
        return await collector.handle(request, limit=config.max_batch_bytes, single=None)

    app.add_api_route(
        f"/v1/{SHORT_BATCH_PATH}", batch, methods=["POST"], name="batch_short", include_in_schema=False
    )
    for message_type in MESSAGE_TYPES:
        _add_single_route(app, message_type, collector)
    describe_payloads(app)
    return app


#: Segment's own SDKs post to short paths: analytics.js single calls to ``/v1/<first letter of
#: the type>`` (write key in the body), analytics-swift and analytics-kotlin batches to
#: ``<apiHost>/b``. They are served as aliases (left out of the OpenAPI document).
SHORT_BATCH_PATH = "b"


def _add_single_route(app: FastAPI, message_type: MessageType, collector: Collector) -> None:
    async def single(request: Request) -> JSONResponse:
        return await collector.handle(request, limit=MAX_MESSAGE_BYTES, single=message_type)

    app.add_api_route(
        f"/v1/{message_type[0]}",
        single,
        methods=["POST"],
        name=f"{message_type}_short",
        include_in_schema=False,
    )

    single.__doc__ = f"One ``{message_type}`` call, at most 32 KB."
    app.add_api_route(
        f"/v1/{message_type}",
        single,
        methods=["POST"],
        tags=["tracking"],
        name=message_type,
        responses=collector_responses(),
        openapi_extra=tracking_operation(single_call_schema(message_type), limit_bytes=MAX_MESSAGE_BYTES),
    )


class CollectedProductConfig(Protocol):
    """What the collector reads of a product's configuration (a product's ``ProductConfig``
    has it): its name, its topics and the prefix of its environment variables."""

    model_config: ClassVar[SettingsConfigDict]

    @property
    def name(self) -> str: ...
    @property
    def topics(self) -> dict[str, TopicConfig]: ...


def setting_variable(config: CollectedProductConfig, *path: str) -> str:
    """The environment variable that sets ``path`` of ``config`` (``WEB_COLLECTOR__PORT``), from
    the prefix the configuration was loaded with; ``<PRODUCT>_`` when it is unknown."""
    prefix = str(config.model_config.get("env_prefix") or "<PRODUCT>_")
    return prefix + "__".join(p.upper() for p in path)


def product_collector_app(
    config: CollectedProductConfig, settings: CollectorSettings, *, bootstrap_servers: str
) -> FastAPI:
    """The collector of a product whose ``topics`` name ``events`` and ``dead_letter``; it
    creates both (with their configured partitions and retention) when they are missing.

    Without write keys it would refuse every request: in ``staging`` and ``prod`` it refuses
    to start, in ``dev`` it starts with a warning (``/health`` and ``/ready`` still answer)."""
    from importlib.metadata import version

    keys = [k.get_secret_value() for k in settings.write_keys if k.get_secret_value()]
    require_outside_dev(
        bool(keys),
        what=f"{config.name}: the collector has no write keys and refuses every event",
        variable=f"{setting_variable(config, 'collector', 'write_keys')} (a JSON list of keys)",
    )
    missing = {"events", "dead_letter"} - set(config.topics)
    if missing:
        raise ConfigError(f"{config.name}: topics {sorted(missing)} must be configured for the collector")
    events, dead_letter = config.topics["events"], config.topics["dead_letter"]
    return create_collector_app(
        CollectorConfig(
            service=f"{config.name}-collector",
            version=version(config.name),
            bootstrap_servers=bootstrap_servers,
            events_topic=events.name,
            dead_letter_topic=dead_letter.name,
            write_keys=keys,
            max_batch_bytes=settings.max_batch_bytes,
            trusted_proxies=tuple(ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies),
            topics=[
                TopicSpec(
                    t.name,
                    partitions=t.partitions,
                    config=t.kafka_config(),
                )
                for t in (events, dead_letter)
            ],
        )
    )
