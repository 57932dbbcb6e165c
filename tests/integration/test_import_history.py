"""Importing history: a month from two years ago, from a gzip file and from a Kafka topic,
through the product's ``import`` command, the real broker, Spark and Delta, to gold.

Weeks are counted from W, the first Monday at least two years back:

- v1 reads / and /pricing and signs up on W+2 (one session; the first line keeps its own
  ``receivedAt``), aliases to user u-1, and comes back on W+9;
- v2 reads /blog on W+2 (a bounce; its line has ``sentAt`` but no ``receivedAt``);
- v3 reads two pages 40 minutes apart on W+16 (two sessions);
- v4 reads /docs every morning from W to W+19;
- v5 comes from another Kafka topic and reads / on W+2 (a bounce);
- the file has a blank line, a line that is not JSON and a track call without an event name;
  the topic has one record that is not JSON.

Without the import marker every one of these events would be refused by silver
(``event_time_plausible``: more than 400 days before ``receivedAt``).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.producer import EventProducer
from lakehouse_events.product import product_cli, reconcile_product
from lakehouse_platform.orchestrator import run_pipeline
from lakehouse_testing.plugin import KafkaFixture
from web_user_analytics.config import load_web_config
from web_user_analytics.pipeline import WEB, build_pipeline
from web_user_analytics.storage.tables import (
    GOLD_DAILY_TRAFFIC,
    GOLD_RETENTION,
    SILVER_EVENTS,
    SILVER_SESSIONS,
)

pytestmark = pytest.mark.integration

KEY = "import-test-key"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
TWO_YEARS_AGO = date.today() - timedelta(days=730)
W = TWO_YEARS_AGO - timedelta(days=TWO_YEARS_AGO.weekday())


def at(day: int, hour: int, minute: int = 0) -> str:
    return f"{W + timedelta(days=day)}T{hour:02}:{minute:02}:00Z"


def page(who: str, when: str, path: str, **extra: object) -> dict[str, object]:
    context = {"userAgent": BROWSER, "page": {"url": f"https://shop.example{path}", "path": path}}
    return {"type": "page", "anonymousId": who, "timestamp": when, "context": context, **extra}


FIRST_RECEIVED = f"{W + timedelta(days=2)}T10:00:30Z"
FILE_LINES = [
    page("v1", at(2, 10), "/", messageId="v1-home", sentAt=FIRST_RECEIVED, receivedAt=FIRST_RECEIVED),
    page("v1", at(2, 10, 5), "/pricing"),
    {"type": "track", "anonymousId": "v1", "event": "Signed Up", "timestamp": at(2, 10, 6)},
    "",
    "this line is not JSON",
    page("v2", at(2, 14), "/blog", messageId="v2-blog", sentAt=at(2, 14, 1)),
    {"type": "track", "anonymousId": "v2", "timestamp": at(2, 14, 2)},
    {
        "type": "alias",
        "messageId": "v1-alias",
        "userId": "u-1",
        "previousId": "v1",
        "timestamp": at(2, 10, 7),
    },
    page("v1", at(9, 9), "/"),
    page("v3", at(16, 20), "/"),
    page("v3", at(16, 20, 40), "/pricing"),
    *[page("v4", at(day, 8), "/docs") for day in range(20)],
]


def pseudonym(clear: str) -> str:
    return hmac.new(KEY.encode(), clear.encode(), hashlib.sha256).hexdigest()


def rows(location: str) -> list[dict[str, object]]:
    return read_arrow(location).to_pylist()  # type: ignore[no-any-return]


def test_a_month_from_two_years_ago_is_imported_through_every_layer(
    kafka_broker: KafkaFixture,
    lake_root: str,
    unique_topic: str,
    spark: SparkSession,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    for name, value in {
        "WEB_PSEUDONYMISATION_KEY": KEY,
        "WEB_TOPICS__EVENTS__NAME": unique_topic,
        "WEB_TOPICS__DEAD_LETTER__NAME": f"{unique_topic}.dlq",
        "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "LAKEHOUSE_LAKE_ROOT": lake_root,
    }.items():
        monkeypatch.setenv(name, value)
    export = tmp_path / "export.jsonl.gz"
    export.write_bytes(
        gzip.compress(b"\n".join(m.encode() if isinstance(m, str) else orjson.dumps(m) for m in FILE_LINES))
    )
    other_topic = f"{unique_topic}.legacy"
    ensure_topics(bootstrap, [TopicSpec(other_topic, partitions=1)])
    with EventProducer(bootstrap) as producer:
        producer.send(other_topic, orjson.dumps(page("v5", at(2, 12), "/"))).result(timeout=30)
        producer.send(other_topic, b"{broken").result(timeout=30)
    started = datetime.now(UTC)
    cli, runner = product_cli(WEB), CliRunner()

    from_file = runner.invoke(cli, ["import", str(export), "--refused", str(tmp_path / "refused.jsonl")])
    from_topic = runner.invoke(cli, ["import", "--from-topic", other_topic])

    assert from_file.exit_code == 1, from_file.output
    assert "export.jsonl.gz: 28 of 30 messages imported, 2 refused" in from_file.output
    assert "line 5: not valid JSON" in from_file.output
    assert "line 7: message: Value error, track calls require an event name" in from_file.output
    refused = [orjson.loads(line) for line in (tmp_path / "refused.jsonl").read_bytes().splitlines()]
    assert [(r["where"], r["raw"]) for r in refused] == [
        ("line 5", "this line is not JSON"),
        ("line 7", orjson.dumps(FILE_LINES[6]).decode()),
    ]
    assert from_topic.exit_code == 1, from_topic.output
    assert f"kafka:{other_topic}: 1 of 2 messages imported, 1 refused" in from_topic.output
    assert "partition 0 offset 1: not valid JSON" in from_topic.output

    config = load_web_config()
    pipeline = build_pipeline(config, spark=lambda: spark, bootstrap_servers=bootstrap, lake_root=lake_root)
    run = run_pipeline(pipeline)
    assert run.status == "succeeded", [t.error for t in run.tasks]

    counts = reconcile_product(WEB, config, bootstrap_servers=bootstrap, lake_root=lake_root)
    assert (counts.kafka, counts.bronze, counts.silver, counts.quarantine) == (29, 29, 29, 0)
    assert counts.balanced

    events = {e["event_id"]: e for e in rows(SILVER_EVENTS.location(lake_root))}
    assert len(events) == 29
    assert all(e["imported"] is True for e in events.values())
    first = events["v1-home"]
    assert (first["event_ts"].isoformat(), first["received_at"].isoformat()) == (
        f"{W + timedelta(days=2)}T10:00:00+00:00",
        f"{W + timedelta(days=2)}T10:00:30+00:00",
    )
    blog = events["v2-blog"]
    assert blog["event_ts"].isoformat() == f"{W + timedelta(days=2)}T14:00:00+00:00"
    assert blog["received_at"] >= started - timedelta(seconds=1)
    alias = events["v1-alias"]
    assert (alias["visitor_id"], alias["previous_id"]) == (pseudonym("u-1"), pseudonym("v1"))

    sessions = rows(SILVER_SESSIONS.location(lake_root))
    assert len(sessions) == 26
    v3_day = [s for s in sessions if s["visitor_id"] == pseudonym("v3")]
    assert sorted(s["started_at"].isoformat() for s in v3_day) == [
        f"{W + timedelta(days=16)}T20:00:00+00:00",
        f"{W + timedelta(days=16)}T20:40:00+00:00",
    ]

    traffic = {
        (t["date"], t["device_type"], t["country"]): t for t in rows(GOLD_DAILY_TRAFFIC.location(lake_root))
    }
    busy_day = traffic[(W + timedelta(days=2), "all", "all")]
    assert (busy_day["visitors"], busy_day["sessions"], busy_day["page_views"], busy_day["bounce_rate"]) == (
        4,
        4,
        5,
        0.75,
    )
    retention = {
        r["week_offset"]: (r["cohort_size"], r["retained_visitors"])
        for r in rows(GOLD_RETENTION.location(lake_root))
        if r["cohort_week"] == W and r["week_offset"] <= 2
    }
    assert retention == {0: (4, 4), 1: (4, 2), 2: (4, 1)}
