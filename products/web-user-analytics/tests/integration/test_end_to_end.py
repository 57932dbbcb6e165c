"""A hand-built day with known answers through the real collector, Kafka, Spark, Delta and API.

The day (D) holds, for three people and a crawler:

- ``alice`` lands on / from a Google ad (utm spring/cpc), reads /pricing, and 35 minutes later
  goes to /signup and signs up (a second session, by the 30-minute rule); her identify call
  carries her e-mail. Her first page view is re-sent by her SDK (same messageId).
- ``bob`` arrives from google.com search at 23:50 and reads /pricing at 00:10 on D+1 — one
  session crossing midnight, sent in reverse order.
- ``carol`` views /blog once: a bounce.
- a crawler (Googlebot) views two pages: bot traffic, absent from gold.
- one record on the topic is not JSON at all (a producer bypassing the collector), and one
  message in a batch has no event name (dead-lettered by the collector).

After the first run a late page view of alice's at 10:30 arrives: it closes the 35-minute gap,
so her two sessions become one. The second run must re-sessionise her day only.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import orjson
import pytest
from pyspark.sql import SparkSession

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_core.kafka.producer import EventProducer
from lakehouse_core.platform_topics import PipelineRunRecord
from lakehouse_core.privacy import SUBJECT_KEY_VARIABLE, subject_key_of
from lakehouse_core.settings import LakehouseSettings
from lakehouse_events.product import collector_app, reconcile_product, topic_specs
from lakehouse_platform.catalog import product_catalog
from lakehouse_platform.lineage import lineage_from_settings, read_events
from lakehouse_platform.orchestrator import PipelineRun, RunRecorder, run_pipeline
from lakehouse_testing.plugin import KafkaFixture, serve_in_thread
from web_user_analytics.config import WebConfig, load_web_config
from web_user_analytics.pipeline import WEB, build_pipeline
from web_user_analytics.serving.app import create_app
from web_user_analytics.storage.tables import (
    BRONZE_EVENTS,
    GOLD_DAILY_TRAFFIC,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
    SILVER_IDENTITY_LINKS,
    SILVER_SESSIONS,
)

pytestmark = pytest.mark.e2e

D = "2026-03-02"
NEXT = "2026-03-03"
WRITE_KEY = "e2e-write-key"
SUBJECT_KEY = b"e2e-subject-key"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SITE = "https://shop.example"


def page(
    mid: str, who: str, ts: str, path: str, *, referrer: str | None = None, query: str = ""
) -> dict[str, object]:
    context: dict[str, object] = {
        "userAgent": BOT if who == "crawler" else BROWSER,
        "ip": "203.0.113.77",
        "page": {"url": f"{SITE}{path}{query}", "path": path, "referrer": referrer, "search": query},
    }
    return {"type": "page", "messageId": mid, "anonymousId": who, "timestamp": ts, "context": context}


def track(mid: str, who: str, ts: str, event: str) -> dict[str, object]:
    return {
        "type": "track",
        "messageId": mid,
        "anonymousId": who,
        "timestamp": ts,
        "event": event,
        "context": {"userAgent": BROWSER, "ip": "203.0.113.77"},
    }


FIRST_DELIVERY = [
    page(
        "a1",
        "alice",
        f"{D}T10:00:00Z",
        "/",
        referrer="https://www.google.com/",
        query="?utm_source=google&utm_medium=cpc&utm_campaign=spring",
    ),
    page("a2", "alice", f"{D}T10:10:00Z", "/pricing", referrer=f"{SITE}/"),
    page("a3", "alice", f"{D}T10:45:00Z", "/signup", referrer=f"{SITE}/pricing"),
    track("a4", "alice", f"{D}T10:46:00Z", "Signed Up"),
    {
        "type": "identify",
        "messageId": "a5",
        "anonymousId": "alice",
        "userId": "alice@example.com",
        "timestamp": f"{D}T10:46:30Z",
        "traits": {"email": "alice@example.com", "plan": "pro"},
    },
    page("b2", "bob", f"{NEXT}T00:10:00Z", "/pricing", referrer=f"{SITE}/"),
    page("b1", "bob", f"{D}T23:50:00Z", "/", referrer="https://www.google.com/search?q=shop"),
    page("c1", "carol", f"{D}T14:00:00Z", "/blog"),
    page("x1", "crawler", f"{D}T03:00:00Z", "/"),
    page("x2", "crawler", f"{D}T03:00:05Z", "/pricing"),
    {"type": "track", "messageId": "bad", "anonymousId": "dora", "timestamp": f"{D}T12:00:00Z"},
]
RESENT = [FIRST_DELIVERY[0]]
LATE = [page("a6", "alice", f"{D}T10:30:00Z", "/docs", referrer=f"{SITE}/pricing")]


@pytest.fixture
def product(
    kafka_broker: KafkaFixture, lake_root: str, unique_topic: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[WebConfig, LakehouseSettings, str]]:
    monkeypatch.setenv("WEB_COLLECTOR__WRITE_KEYS", orjson.dumps([WRITE_KEY]).decode())
    monkeypatch.setenv("WEB_PSEUDONYMISATION_KEY", "e2e-pseudonymisation-key")
    monkeypatch.setenv(SUBJECT_KEY_VARIABLE, SUBJECT_KEY.decode())
    monkeypatch.setenv("WEB_TOPICS__EVENTS__NAME", unique_topic)
    monkeypatch.setenv("WEB_TOPICS__DEAD_LETTER__NAME", f"{unique_topic}.dlq")
    config = load_web_config()
    settings = LakehouseSettings(kafka_bootstrap_servers=kafka_broker.bootstrap_servers, lake_root=lake_root)
    ensure_topics(kafka_broker.bootstrap_servers, topic_specs(config.topics))
    with serve_in_thread(collector_app(config, settings)) as collector_url:
        yield config, settings, collector_url


def post_batch(url: str, messages: list[dict[str, object]]) -> dict[str, object]:
    response = httpx.post(
        f"{url}/v1/batch", content=orjson.dumps({"batch": messages}), headers=AUTH, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


class Attempts:
    """The attempt records of the runs, as the runner hands them to a recorder."""

    def __init__(self) -> None:
        self.records: list[PipelineRunRecord] = []

    def record(self, run: PipelineRun) -> None:
        """Only the attempts are kept."""

    def record_attempt(self, attempt: PipelineRunRecord) -> None:
        self.records.append(attempt)

    def of(self, run: PipelineRun, task: str) -> PipelineRunRecord:
        [found] = [a for a in self.records if a.run_id == run.run_id and a.asset == task]
        return found


def run(
    config: WebConfig, settings: LakehouseSettings, spark: SparkSession, recorders: Sequence[RunRecorder] = ()
) -> PipelineRun:
    pipeline = build_pipeline(
        config,
        spark=lambda: spark,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        lake_root=settings.lake_root,
    )
    result = run_pipeline(pipeline, recorders=recorders)
    assert result.status == "succeeded", [t.error for t in result.tasks]
    return result


def message_id(value: str) -> str | None:
    try:
        return str(orjson.loads(value)["messageId"])
    except orjson.JSONDecodeError:
        return None


def rows(location: str) -> list[dict[str, object]]:
    return read_arrow(location).to_pylist()  # type: ignore[no-any-return]


def test_known_day_through_every_layer_and_the_api(
    product: tuple[WebConfig, LakehouseSettings, str], spark: SparkSession, tmp_path: Path
) -> None:
    config, settings, collector_url = product
    lake = settings.lake_root
    attempts = Attempts()
    observed = settings.model_copy(update={"lineage_file": tmp_path / "lineage.jsonl"})
    lineage = lineage_from_settings(observed, catalog=product_catalog(WEB, lake_root=lake))
    assert lineage is not None

    first = post_batch(collector_url, FIRST_DELIVERY)
    assert first["accepted"] == 10
    assert [r["index"] for r in first["rejected"]] == [10]  # type: ignore[union-attr]
    assert post_batch(collector_url, RESENT)["accepted"] == 1
    with EventProducer(settings.kafka_bootstrap_servers) as producer:
        producer.send(config.topics["events"].name, b"{not json", key=b"x").result(timeout=30)

    with lineage:
        first_run = run(config, settings, spark, [attempts, lineage])
    assert first_run.task("bronze").outputs["records"] == 12
    assert first_run.task("silver").outputs["bronze_rows_read"] == 12
    topic = config.topics["events"].name
    bronze, silver = attempts.of(first_run, "bronze"), attempts.of(first_run, "silver")
    assert bronze.rows_read == {f"kafka:{topic}": 12}
    assert bronze.rows_written == {BRONZE_EVENTS.qualified_name: 12}
    assert set(bronze.delta_versions) == {BRONZE_EVENTS.qualified_name}
    assert silver.rows_read == {BRONZE_EVENTS.qualified_name: 12}
    assert silver.rows_written[QUARANTINE_EVENTS.qualified_name] == 2
    assert silver.rows_quarantined == {"unique_message_id": 1, "valid_json": 1}
    assert {SILVER_EVENTS.qualified_name, SILVER_SESSIONS.qualified_name} <= set(silver.delta_versions)
    gold = attempts.of(first_run, "gold")
    assert GOLD_DAILY_TRAFFIC.qualified_name in gold.delta_versions
    assert gold.rows_written[GOLD_DAILY_TRAFFIC.qualified_name] > 0

    lineage_events = read_events(tmp_path / "lineage.jsonl")
    assert [(e["job"]["name"], e["eventType"]) for e in lineage_events] == [
        (task, state) for task in ("topics", "bronze", "silver", "gold") for state in ("START", "COMPLETE")
    ]
    datasets = {
        (e["job"]["name"], e["eventType"]): (
            [d["name"] for d in e["inputs"]],
            [d["facets"]["symlinks"]["identifiers"][0]["name"] for d in e["outputs"]],
        )
        for e in lineage_events
    }
    assert datasets["bronze", "COMPLETE"] == ([topic], [BRONZE_EVENTS.qualified_name])
    assert datasets["silver", "COMPLETE"][0] == [BRONZE_EVENTS.location(lake)]
    assert set(datasets["silver", "COMPLETE"][1]) >= {
        SILVER_EVENTS.qualified_name,
        SILVER_SESSIONS.qualified_name,
        QUARANTINE_EVENTS.qualified_name,
    }
    assert set(datasets["gold", "COMPLETE"][0]) == {
        SILVER_EVENTS.location(lake),
        SILVER_SESSIONS.location(lake),
    }
    silver_done = next(
        e for e in lineage_events if (e["job"]["name"], e["eventType"]) == ("silver", "COMPLETE")
    )
    quarantined = next(d for d in silver_done["outputs"] if d["name"] == QUARANTINE_EVENTS.location(lake))
    assert quarantined["facets"]["dataQualityMetrics"]["rowCount"] == 2
    assert quarantined["facets"]["lakehouse_quarantine"]["rowsByRule"] == {
        "unique_message_id": 1,
        "valid_json": 1,
    }

    counts = reconcile_product(
        WEB, config, bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=lake
    )
    assert (counts.kafka, counts.bronze, counts.silver, counts.quarantine) == (12, 12, 10, 2)
    assert counts.balanced
    quarantine = rows(QUARANTINE_EVENTS.location(lake))
    assert sorted(tuple(q["failed_rules"]) for q in quarantine) == [("unique_message_id",), ("valid_json",)]
    alice_key = subject_key_of("alice@example.com", SUBJECT_KEY)
    bronze = [(message_id(b["value"]), b["subject_key"]) for b in rows(BRONZE_EVENTS.location(lake))]
    assert [(m, k) for m, k in bronze if k is not None] == [("a5", alice_key)]
    assert [k for m, k in bronze if m is None] == [None]
    assert [q["subject_key"] for q in quarantine] == [None, None]
    [link] = rows(SILVER_IDENTITY_LINKS.location(lake))
    assert (link["subject_key"], link["link_kind"], link["event_id"]) == (alice_key, "identify", "a5")
    assert link["linked_id"] == next(
        e["anonymous_id"] for e in rows(SILVER_EVENTS.location(lake)) if e["event_id"] == "a1"
    )

    events = rows(SILVER_EVENTS.location(lake))
    stored = orjson.dumps(events).decode()
    assert "alice@example.com" not in stored
    assert "203.0.113.77" not in stored
    assert '"alice"' not in stored
    alice_sessions = sorted(
        (s["started_at"].isoformat(), s["page_views"])
        for s in rows(SILVER_SESSIONS.location(lake))
        if s["device_type"] != "bot" and s["started_at"].hour == 10
    )
    assert alice_sessions == [("2026-03-02T10:00:00+00:00", 2), ("2026-03-02T10:45:00+00:00", 1)]

    post_batch(collector_url, LATE)
    second_run = run(config, settings, spark, [attempts])
    assert attempts.of(second_run, "bronze").rows_written == {BRONZE_EVENTS.qualified_name: 1}
    assert attempts.of(second_run, "silver").rows_quarantined == {}

    counts = reconcile_product(
        WEB, config, bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=lake
    )
    assert (counts.kafka, counts.bronze, counts.silver, counts.quarantine) == (13, 13, 11, 2)
    sessions = [s for s in rows(SILVER_SESSIONS.location(lake)) if s["device_type"] != "bot"]
    assert len(sessions) == 3
    alice = next(s for s in sessions if s["campaign"] == "spring")
    assert (alice["landing_path"], alice["exit_path"]) == ("/", "/signup")
    assert (alice["page_views"], alice["events"], alice["duration_seconds"]) == (4, 5, 2760.0)
    assert (alice["source"], alice["medium"], alice["campaign"]) == ("google", "cpc", "spring")
    bob = next(s for s in sessions if s["campaign"] == "(not set)" and s["page_views"] == 2)
    assert (bob["session_date"].isoformat(), bob["duration_seconds"], bob["exit_path"]) == (
        D,
        1200.0,
        "/pricing",
    )
    assert (bob["source"], bob["medium"]) == ("google.com", "search")
    carol = next(s for s in sessions if s["landing_path"] == "/blog")
    assert (carol["is_bounce"], carol["session_date"].isoformat()) == (True, D)

    with serve_in_thread(create_app(config, lake_root=lake)) as api:
        traffic = httpx.get(f"{api}/v1/traffic", params={"start": D, "end": NEXT}).json()
        totals = {t["date"]: t for t in traffic if t["device_type"] == "all" and t["country"] == "all"}
        assert set(totals) == {D}
        day = totals[D]
        assert (day["visitors"], day["sessions"], day["page_views"]) == (3, 3, 7)
        assert day["bounce_rate"] == pytest.approx(1 / 3)
        assert day["avg_session_duration_seconds"] == pytest.approx((2760 + 1200 + 0) / 3)

        funnel = httpx.get(f"{api}/v1/funnels/signup", params={"start": D, "end": D}).json()
        assert [s["sessions"] for s in funnel["steps"]] == [2, 2, 1, 1]

        pages = httpx.get(f"{api}/v1/pages/top", params={"start": D, "end": NEXT, "order_by": "views"}).json()
        views = {p["page_path"]: p["views"] for p in pages["items"]}
        assert views == {"/": 2, "/pricing": 2, "/docs": 1, "/signup": 1, "/blog": 1}

        ready = httpx.get(f"{api}/ready")
        assert ready.status_code == 200, ready.text
