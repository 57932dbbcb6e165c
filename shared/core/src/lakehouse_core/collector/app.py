"""The event collector: the Segment HTTP Tracking API in front of a Kafka topic.

Tracking SDKs (Segment, RudderStack and compatible) post here unchanged. The collector answers
200 only after Kafka has acknowledged every accepted event, so a 200 is a promise that the
events are stored; while Kafka does not acknowledge, callers get 503 and retry (the SDKs do),
and the repeated ``messageId`` is deduplicated downstream.

Status codes: 400 malformed body (raw body goes to the dead-letter topic), 401 unknown or
missing write key, 413 too large, 415 unsupported encoding, 503 Kafka unavailable. Inside a
well-formed batch, invalid messages go to the dead-letter topic with the reason, are listed in
the response, and do not cost the valid ones.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from lakehouse_core.collector.envelope import (
    Collected,
    CollectedEvent,
    InvalidMessage,
    RequestRejected,
    collect_batch,
    collect_message,
    decode_body,
    parse_json_object,
)
from lakehouse_core.config import CollectorSettings, ProductConfig
from lakehouse_core.errors import ConfigError
from lakehouse_core.health import kafka_check
from lakehouse_core.kafka.producer import EventProducer
from lakehouse_core.segment import MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, MESSAGE_TYPES, MessageType
from lakehouse_core.service import create_service_app

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


def _rejection(status: int, reason: str) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"success": False, "error": reason}, status_code=status, headers=headers)


def _key_from_basic_auth(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        user_and_password = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user_and_password.split(":", 1)[0]


def _client_ip(request: Request) -> str | None:
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    return request.client.host if request.client else None


UNAUTHORISED = "missing or unknown write key: send it as the HTTP Basic user name"


class _DeadLettered(Exception):  # noqa: N818 - control flow: the body went to the dead-letter topic
    def __init__(self, rejected: RequestRejected) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected


class Collector:
    """Request handling: authorise, decode, validate, hand to Kafka, answer."""

    def __init__(self, config: CollectorConfig, producer: EventProducer, events: Counter) -> None:
        self.config = config
        self.kafka = producer
        self.outcomes = events
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
            return _rejection(dead.rejected.status, dead.rejected.reason)
        except RequestRejected as rejected:
            return _rejection(rejected.status, rejected.reason)
        self.outcomes.labels("accepted").inc(len(collected.events))
        self.outcomes.labels("dead_lettered").inc(len(collected.invalid))
        return JSONResponse(
            {
                "success": True,
                "accepted": len(collected.events),
                "rejected": [{"index": m.index, "reason": m.reason} for m in collected.invalid],
            }
        )

    async def _collect(self, request: Request, *, limit: int, single: MessageType | None) -> Collected:
        received_at = datetime.now(UTC)
        header = request.headers.get("authorization")
        header_ok = self.authorised(_key_from_basic_auth(header))
        if header and not header_ok:
            raise RequestRejected(401, UNAUTHORISED)
        declared = request.headers.get("content-length", "")
        too_large = declared.isdigit() and int(declared) > limit
        body = b"" if too_large else await request.body()
        if too_large or len(body) > limit:
            raise RequestRejected(413, f"body is larger than {limit} bytes")
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
        client_ip = _client_ip(request)
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


def create_collector_app(config: CollectorConfig, *, producer: EventProducer | None = None) -> FastAPI:
    """The collector service; it owns (and closes) its producer unless one is passed in."""
    owned = producer is None
    kafka = producer or EventProducer(
        config.bootstrap_servers, **{"delivery.timeout.ms": PRODUCER_DELIVERY_TIMEOUT_MS}
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            await asyncio.to_thread(kafka.close, 10.0)

    app = create_service_app(
        service=config.service,
        version=config.version,
        checks=[kafka_check(config.bootstrap_servers)],
        description="Segment-compatible HTTP tracking API; events go to Kafka.",
        lifespan=lifespan,
    )
    events = Counter(
        "collector_events",
        "Events by outcome: accepted (acknowledged by Kafka), dead_lettered, unavailable.",
        ["outcome"],
        namespace=config.service.replace("-", "_"),
        registry=app.state.registry,
    )
    collector = Collector(config, kafka, events)
    app.state.collector = collector

    @app.post("/v1/batch", tags=["tracking"])
    async def batch(request: Request) -> JSONResponse:
        """Several calls in one request: ``{"batch": [...]}``, at most 500 KB."""
        return await collector.handle(request, limit=MAX_BATCH_BYTES, single=None)

    for message_type in MESSAGE_TYPES:
        _add_single_route(app, message_type, collector)
    return app


def _add_single_route(app: FastAPI, message_type: MessageType, collector: Collector) -> None:
    async def single(request: Request) -> JSONResponse:
        return await collector.handle(request, limit=MAX_MESSAGE_BYTES, single=message_type)

    single.__doc__ = f"One ``{message_type}`` call, at most 32 KB."
    app.add_api_route(f"/v1/{message_type}", single, methods=["POST"], tags=["tracking"], name=message_type)


def product_collector_app(
    config: ProductConfig, settings: CollectorSettings, *, bootstrap_servers: str
) -> FastAPI:
    """The collector of a product whose ``topics`` name ``events`` and ``dead_letter``."""
    from importlib.metadata import version

    keys = [k.get_secret_value() for k in settings.write_keys if k.get_secret_value()]
    if not keys:
        raise ConfigError(
            f"{config.name}: no collector write keys; set <PRODUCT>_COLLECTOR__WRITE_KEYS (a JSON list)"
        )
    missing = {"events", "dead_letter"} - set(config.topics)
    if missing:
        raise ConfigError(f"{config.name}: topics {sorted(missing)} must be configured for the collector")
    return create_collector_app(
        CollectorConfig(
            service=f"{config.name}-collector",
            version=version(config.name),
            bootstrap_servers=bootstrap_servers,
            events_topic=config.topics["events"].name,
            dead_letter_topic=config.topics["dead_letter"].name,
            write_keys=keys,
        )
    )
