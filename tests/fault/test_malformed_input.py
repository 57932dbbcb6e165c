"""Malformed tracking input through the real collector, Kafka and the web-user-analytics pipeline.

Every bad input must end somewhere a person can read why: refused with a 4xx whose body says
what is wrong, listed as rejected in a batch's answer (and kept on the dead-letter topic), or
stored in the quarantine table under the rule it broke. Nothing may crash the pipeline, and the
valid events sent next to bad ones must reach silver.

All inputs are sent first and the pipeline runs once (module fixture ``outcome``); each test
then checks one input class against what the collector answered and what the tables hold.
Records written straight to Kafka (a producer bypassing the collector) check the silver rules
the collector makes unreachable.
"""

from __future__ import annotations

import base64
import gzip
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka import Message
from pyspark.sql import SparkSession

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_core.settings import LakehouseSettings
from lakehouse_events.product import collector_app, reconcile_product, topic_specs
from lakehouse_events.reconciliation import Reconciliation
from lakehouse_platform.orchestrator import PipelineRun, run_pipeline
from lakehouse_testing.plugin import KafkaFixture, serve_in_thread
from web_user_analytics.config import load_web_config
from web_user_analytics.pipeline import WEB, build_pipeline
from web_user_analytics.storage.tables import QUARANTINE_EVENTS, SILVER_EVENTS

pytestmark = [pytest.mark.fault, pytest.mark.e2e]

WRITE_KEY = "malformed-write-key"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
SUITE = "web_events"
NOW = datetime.now(UTC).replace(microsecond=0)
YESTERDAY = NOW - timedelta(days=1)
BIG = "x" * 40_000  # one message over the 32 KB limit


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def valid(mid: str) -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": mid,
        "anonymousId": f"visitor-{mid}",
        "timestamp": iso(YESTERDAY),
        "context": {"page": {"url": "https://shop.example/", "path": "/"}},
    }


def track(mid: str, **changes: Any) -> dict[str, Any]:
    """A valid track call with ``changes`` applied; a change to ``None`` removes the field."""
    message = {
        "type": "track",
        "messageId": mid,
        "anonymousId": f"visitor-{mid}",
        "event": "Clicked",
        "timestamp": iso(YESTERDAY),
    }
    message.update(changes)
    return {k: v for k, v in message.items() if v is not None}


@dataclass(frozen=True)
class Refused:
    """A request the collector must refuse as a whole."""

    path: str
    body: bytes
    status: int
    error: str
    encoding: str | None = None

    @property
    def dead_lettered(self) -> bool:
        """A 400 keeps the unreadable body on the dead-letter topic; other refusals don't."""
        return self.status == 400


def batch_body(*messages: object) -> bytes:
    return orjson.dumps({"batch": list(messages)})


#: Whole requests refused with a 4xx; id → request and the expected status and message.
REFUSED: dict[str, Refused] = {
    "invalid-json": Refused(
        "/v1/batch",
        b'{"batch": [{"type": "page", "messageId": "refused-invalid-json", "anonymousId": "a"',
        400,
        "body is not valid JSON",
    ),
    "json-array-not-object": Refused(
        "/v1/batch", orjson.dumps([valid("refused-array")]), 400, "body must be a JSON object, got list"
    ),
    "batch-not-an-array": Refused(
        "/v1/batch",
        orjson.dumps({"batch": valid("refused-batch-object")}),
        400,
        "needs a non-empty 'batch' array",
    ),
    "bad-utf8-bytes": Refused(
        "/v1/batch",
        b'{"batch": [{"type": "page", "messageId": "refused-utf8", "anonymousId": "caf\xc3\x28\xff"}]}',
        400,
        "not valid UTF-8",
    ),
    "gzip-header-on-plain-json": Refused(
        "/v1/batch", batch_body(valid("refused-not-gzip")), 400, "body is not valid gzip", encoding="gzip"
    ),
    "truncated-gzip": Refused(
        "/v1/batch",
        gzip.compress(batch_body(valid("refused-truncated-gzip")))[:40],
        400,
        "body is truncated gzip data",
        encoding="gzip",
    ),
    "unsupported-encoding": Refused(
        "/v1/batch",
        batch_body(valid("refused-brotli")),
        415,
        "unsupported Content-Encoding 'br'",
        encoding="br",
    ),
    "oversize-single-event": Refused(
        "/v1/track",
        orjson.dumps(track("refused-big", properties={"blob": BIG})),
        413,
        "larger than 32768 bytes",
    ),
    "oversize-batch": Refused(
        "/v1/batch",
        batch_body(*[track(f"refused-big-{i}", properties={"blob": "y" * 30_000}) for i in range(150)]),
        413,
        "body is larger than 4194304 bytes",
    ),
    "gzip-bomb-over-batch-limit": Refused(
        "/v1/batch",
        gzip.compress(batch_body(track("refused-bomb", properties={"blob": "z" * 5_000_000}))),
        413,
        "larger than 4194304 bytes after decompression",
        encoding="gzip",
    ),
    "single-call-properties-as-string": Refused(
        "/v1/track",
        orjson.dumps(track("refused-props", properties="color=red")),
        400,
        "properties: Input should be a valid dictionary",
    ),
    "single-call-without-user-or-anonymous-id": Refused(
        "/v1/page",
        orjson.dumps({"messageId": "refused-no-ids", "timestamp": iso(YESTERDAY)}),
        400,
        "either userId or anonymousId is required",
    ),
    "unknown-type-on-a-typed-endpoint": Refused(
        "/v1/track",
        orjson.dumps(track("refused-teleport", type="teleport")),
        400,
        "type 'teleport' sent to the track",
    ),
}

#: Messages refused inside a well-formed batch (listed in the answer, raw copy dead-lettered);
#: each is sent after a valid message that must still reach silver. id → message, reason.
REJECTED_IN_BATCH: dict[str, tuple[object, str]] = {
    "properties-as-string": (
        track("bad-props", properties="color=red"),
        "properties: Input should be a valid dictionary",
    ),
    "timestamp-not-a-date": (
        track("bad-ts-text", timestamp="yesterday"),
        "timestamp: Input should be a valid datetime",
    ),
    "timestamp-epoch-seconds": (
        track("bad-epoch-s", timestamp=int(YESTERDAY.timestamp())),
        "timestamp: Value error, must be an ISO-8601 date-time string, got int",
    ),
    "timestamp-epoch-milliseconds": (
        track("bad-epoch-ms", timestamp=int(YESTERDAY.timestamp() * 1000)),
        "timestamp: Value error, must be an ISO-8601 date-time string, got int",
    ),
    "user-id-as-fraction": (
        track("bad-user-id", userId=4.2),
        "userId: Value error, must be a string or an integer, got float 4.2",
    ),
    "no-user-or-anonymous-id": (
        track("bad-no-ids", anonymousId=None),
        "either userId or anonymousId is required",
    ),
    "oversize-event-in-batch": (track("bad-big", properties={"blob": BIG}), "the limit is 32768"),
    "unknown-type-teleport": (track("bad-teleport", type="teleport"), "type: Input should be 'track'"),
    "track-without-event-name": (track("bad-no-event", event=None), "track calls require an event name"),
    "element-not-an-object": (42, "batch[1] is not a JSON object"),
}

#: Messages the collector accepts that silver must quarantine; id → message, failed rule.
QUARANTINED: dict[str, tuple[dict[str, Any], str]] = {
    "timestamp-far-future": (
        track("q-future", timestamp=iso(NOW + timedelta(days=30))),
        "event_time_plausible",
    ),
    "timestamp-far-past": (
        track("q-past", timestamp=iso(NOW - timedelta(days=3 * 365))),
        "event_time_plausible",
    ),
    "timestamp-year-one": (track("q-year-one", timestamp="0001-01-01T00:00:00Z"), "event_time_plausible"),
    "blank-anonymous-id": (track("q-blank-id", anonymousId="   "), "has_user_or_anonymous_id"),
    "screen-width-as-string": (
        track("q-width-text", context={"screen": {"width": "1280"}}),
        "matches_message_schema",
    ),
    "wifi-flag-as-string": (
        track("q-wifi-text", context={"network": {"wifi": "yes"}}),
        "matches_message_schema",
    ),
}

#: Records written straight to Kafka, bypassing the collector; id → raw value, failed rule.
BYPASSING: dict[str, tuple[bytes, str]] = {
    "kafka-not-json": (b"{not json at all", "valid_json"),
    "kafka-json-array": (b'[{"type": "page"}]', "valid_json"),
    "kafka-timestamp-not-a-date": (
        orjson.dumps({**track("k-ts-text", timestamp="yesterday"), "receivedAt": iso(NOW)}),
        "matches_message_schema",
    ),
    "kafka-no-message-id": (
        orjson.dumps({**track("", messageId=None), "receivedAt": iso(NOW)}),
        "has_message_id",
    ),
    "kafka-no-user-or-anonymous-id": (
        orjson.dumps({**track("k-no-ids", anonymousId=None), "receivedAt": iso(NOW)}),
        "has_user_or_anonymous_id",
    ),
    "kafka-unknown-type-teleport": (
        orjson.dumps({**track("k-teleport", type="teleport"), "receivedAt": iso(NOW)}),
        "known_type",
    ),
    "kafka-track-without-event-name": (
        orjson.dumps({**track("k-no-event", event=None), "receivedAt": iso(NOW)}),
        "track_has_event_name",
    ),
    "kafka-no-received-at": (orjson.dumps(track("k-no-received-at")), "has_received_at"),
}

#: A record straight to Kafka whose bytes are not UTF-8 inside an otherwise valid message.
BAD_UTF8_RECORD = (
    b'{"type": "track", "messageId": "k-bad-utf8", "anonymousId": "caf\xc3\x28\xff", "event": "Clicked", '
    + f'"timestamp": "{iso(YESTERDAY)}", "receivedAt": "{iso(NOW)}"'.encode()
    + b"}"
)

#: Valid filler events, so that the bad rows stay well under the quarantine limit (50% of a
#: batch): above it the silver job refuses the whole batch as systemic breakage, by design.
FILLER = [valid(f"filler-{i}") for i in range(30)]


@dataclass(frozen=True)
class Outcome:
    responses: dict[str, httpx.Response]
    run: PipelineRun
    silver: dict[str, dict[str, Any]]
    quarantine: list[dict[str, Any]]
    dead_letters: list[tuple[bytes, dict[str, bytes]]]
    counts: Reconciliation

    def quarantined(self, *, event_id: str | None = None, raw_value: str | None = None) -> dict[str, Any]:
        found = [
            q
            for q in self.quarantine
            if (event_id is None or q["event_id"] == event_id)
            and (raw_value is None or q["raw_value"] == raw_value)
        ]
        assert len(found) == 1, f"expected one quarantined row for {event_id or raw_value!r}, got {found}"
        return found[0]


def _headers(message: Message) -> dict[str, bytes]:
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {name: value for name, value in pairs if isinstance(value, bytes)}


def _drain(bootstrap: str, topic: str) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = build_consumer(bootstrap, group_id=f"check-{uuid.uuid4().hex}", topics=[topic])
    try:
        return [
            (m.value() or b"", _headers(m))
            for batch in consume_batches(consumer, idle_timeout=2, first_message_timeout=20)
            for m in batch
        ]
    finally:
        consumer.close()


def _send(client: httpx.Client) -> dict[str, httpx.Response]:
    responses: dict[str, httpx.Response] = {}
    for case, refused in REFUSED.items():
        headers = {"Content-Type": "application/json"}
        if refused.encoding:
            headers["Content-Encoding"] = refused.encoding
        responses[case] = client.post(refused.path, content=refused.body, headers=headers)
    for case, (message, _) in REJECTED_IN_BATCH.items():
        responses[case] = client.post("/v1/batch", content=batch_body(valid(f"ok-{case}"), message))
    for case, (message, _) in QUARANTINED.items():
        responses[case] = client.post("/v1/batch", content=batch_body(valid(f"ok-{case}"), message))
    without_id = {k: v for k, v in valid("unused").items() if k != "messageId"} | {
        "anonymousId": "no-id-visitor"
    }
    responses["no-message-id"] = client.post(
        "/v1/batch", content=batch_body(valid("ok-no-message-id"), without_id)
    )
    responses["filler"] = client.post("/v1/batch", content=batch_body(*FILLER))
    return responses


@pytest.fixture(scope="module")
def outcome(
    kafka_broker: KafkaFixture, spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> Outcome:
    """Send every input, run the whole web pipeline once, read back what each layer holds."""
    topic = f"test.malformed.{uuid.uuid4().hex[:8]}"
    bootstrap = kafka_broker.bootstrap_servers
    lake_root = str(tmp_path_factory.mktemp("malformed") / "lake")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WEB_COLLECTOR__WRITE_KEYS", orjson.dumps([WRITE_KEY]).decode())
        env.setenv("WEB_PSEUDONYMISATION_KEY", "malformed-pseudonymisation-key")
        env.setenv("WEB_TOPICS__EVENTS__NAME", topic)
        env.setenv("WEB_TOPICS__DEAD_LETTER__NAME", f"{topic}.dlq")
        config = load_web_config()
    settings = LakehouseSettings(kafka_bootstrap_servers=bootstrap, lake_root=lake_root)
    ensure_topics(bootstrap, topic_specs(config.topics))

    with (
        serve_in_thread(collector_app(config, settings)) as url,
        httpx.Client(base_url=url, headers=AUTH, timeout=30) as client,
    ):
        responses = _send(client)
    with EventProducer(bootstrap) as producer:
        raw = [value for value, _ in BYPASSING.values()] + [BAD_UTF8_RECORD]
        producer.send_all(OutgoingMessage(topic, value, key=b"bypass") for value in raw)

    pipeline = build_pipeline(config, spark=lambda: spark, bootstrap_servers=bootstrap, lake_root=lake_root)
    run = run_pipeline(pipeline)
    silver = {e["event_id"]: e for e in read_arrow(SILVER_EVENTS.location(lake_root)).to_pylist()}
    return Outcome(
        responses=responses,
        run=run,
        silver=silver,
        quarantine=read_arrow(QUARANTINE_EVENTS.location(lake_root)).to_pylist(),
        dead_letters=_drain(bootstrap, f"{topic}.dlq"),
        counts=reconcile_product(WEB, config, bootstrap_servers=bootstrap, lake_root=lake_root),
    )


def test_the_pipeline_survives_every_malformed_input(outcome: Outcome) -> None:
    """Each task ran once and succeeded, and every Kafka record is accounted for:
    Kafka = bronze = silver + quarantine, so nothing that reached Kafka was dropped."""
    assert outcome.run.status == "succeeded", [(t.name, t.error) for t in outcome.run.tasks]
    assert [(t.name, t.status, t.attempts) for t in outcome.run.tasks] == [
        (name, "succeeded", 1) for name in ("topics", "bronze", "silver", "gold")
    ]
    assert outcome.counts.balanced, outcome.counts
    assert outcome.counts.silver >= len(FILLER) + len(REJECTED_IN_BATCH) + len(QUARANTINED)
    assert {f"filler-{i}" for i in range(len(FILLER))} <= set(outcome.silver)


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_unreadable_request_is_refused_with_a_reason(outcome: Outcome, case: str) -> None:
    """The whole request gets the 4xx status and a message naming what is wrong; a 400's body
    is kept on the dead-letter topic with that reason, and none of its events reach silver."""
    refused = REFUSED[case]
    response = outcome.responses[case]
    assert response.status_code == refused.status, response.text
    body = response.json()
    assert body["success"] is False
    assert refused.error in body["error"]
    kept = [headers for value, headers in outcome.dead_letters if value == refused.body]
    if refused.dead_lettered:
        assert [h["reason"].decode() for h in kept] == [body["error"]]
    else:
        assert kept == []
    assert not any(event_id.startswith("refused-") for event_id in outcome.silver)


@pytest.mark.parametrize("case", list(REJECTED_IN_BATCH))
def test_an_invalid_message_in_a_batch_is_rejected_and_its_neighbour_lands(
    outcome: Outcome, case: str
) -> None:
    """The batch is answered 200 with the bad message listed under ``rejected`` with a readable
    reason; its raw copy is on the dead-letter topic with the same reason; the valid message
    sent before it is in silver."""
    message, reason = REJECTED_IN_BATCH[case]
    response = outcome.responses[case]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [1]
    assert reason in body["rejected"][0]["reason"]
    marker = orjson.dumps(message)
    kept = [h for value, h in outcome.dead_letters if value == marker]
    assert [(h["reason"].decode(), h["index"]) for h in kept] == [(body["rejected"][0]["reason"], b"1")]
    assert f"ok-{case}" in outcome.silver


@pytest.mark.parametrize("case", list(QUARANTINED))
def test_a_message_the_collector_accepts_but_silver_cannot_trust_is_quarantined(
    outcome: Outcome, case: str
) -> None:
    """Accepted by the collector (it is a well-formed Segment call), the message fails one
    silver rule: it is in quarantine under that rule with a readable reason, not in silver, and
    the valid message of the same batch is in silver."""
    message, rule = QUARANTINED[case]
    response = outcome.responses[case]
    assert (response.status_code, response.json()["accepted"]) == (200, 2), response.text
    row = outcome.quarantined(event_id=message["messageId"])
    assert row["failed_rules"] == [rule]
    assert row["reason"].startswith(f"{SUITE}: {rule}: ")
    assert message["messageId"] not in outcome.silver
    assert f"ok-{case}" in outcome.silver


def test_a_message_without_message_id_gets_one_from_the_collector(outcome: Outcome) -> None:
    """Documented behaviour, as Segment's own API: a missing ``messageId`` is generated
    (``collector-<uuid>``), so the event is kept, exactly once, rather than refused."""
    assert outcome.responses["no-message-id"].json() == {"success": True, "accepted": 2, "rejected": []}
    generated = [e for e in outcome.silver if e.startswith("collector-")]
    assert len(generated) == 1
    assert "ok-no-message-id" in outcome.silver


@pytest.mark.parametrize("case", list(BYPASSING))
def test_a_bad_record_that_bypassed_the_collector_is_quarantined_by_rule(outcome: Outcome, case: str) -> None:
    """Silver does not trust Kafka: a record no collector checked is quarantined under the one
    rule it breaks, with the raw value kept for replay."""
    raw, rule = BYPASSING[case]
    row = outcome.quarantined(raw_value=raw.decode())
    assert row["failed_rules"] == [rule]
    assert row["reason"].startswith(f"{SUITE}: {rule}: ")


def test_a_record_with_invalid_utf8_that_bypassed_the_collector_does_not_become_silver(
    outcome: Outcome,
) -> None:
    """Bytes that are not UTF-8 cannot be the text the producer meant; bronze decodes them with
    replacement characters, so the event is quarantined under ``valid_utf8`` rather than
    stored altered."""
    assert "k-bad-utf8" not in outcome.silver
    row = outcome.quarantined(event_id="k-bad-utf8")
    assert row["failed_rules"] == ["valid_utf8"]
    assert row["reason"].startswith(f"{SUITE}: valid_utf8: ")
