"""A product's ``pipeline`` command records each task attempt on ``platform.pipeline_runs.v1``
through the spool, besides the run's JSON line, and writes its lineage events (JSON lines by
default)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import orjson
import pytest

from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.platform_topics import PIPELINE_RUNS_TOPIC, PipelineRunRecord
from lakehouse_core.settings import LakehouseSettings
from lakehouse_events.product import run_steps
from lakehouse_platform.lineage import read_events
from lakehouse_testing.plugin import KafkaFixture
from web_user_analytics.pipeline import WEB

pytestmark = pytest.mark.integration


def test_run_steps_publishes_one_record_per_attempt_and_keeps_the_json_lines(
    kafka_broker: KafkaFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lake_root: str
) -> None:
    topic = f"test.run-records.{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("WEB_TOPICS__EVENTS__NAME", topic)
    monkeypatch.setenv("WEB_TOPICS__DEAD_LETTER__NAME", f"{topic}.dlq")
    monkeypatch.setenv("WEB_COLLECTOR__WRITE_KEYS", orjson.dumps(["k"]).decode())
    monkeypatch.setenv("WEB_PSEUDONYMISATION_KEY", "test-pseudonymisation-key")
    settings = LakehouseSettings(
        kafka_bootstrap_servers=kafka_broker.bootstrap_servers,
        lake_root=lake_root,
        state_dir=tmp_path / "state",
    )

    assert run_steps(WEB, WEB.load_config(), settings, ["topics"])

    [line] = (settings.state_dir / "pipeline_runs" / f"{WEB.name}.jsonl").read_text().splitlines()
    run_id = json.loads(line)["run_id"]
    consumer = build_consumer(
        kafka_broker.bootstrap_servers, group_id=f"g-{topic}", topics=[PIPELINE_RUNS_TOPIC]
    )
    try:
        records = [
            PipelineRunRecord.model_validate_json(m.value() or b"")
            for batch in consume_batches(consumer, idle_timeout=3)
            for m in batch
        ]
    finally:
        consumer.close()
    [record] = [r for r in records if r.run_id == run_id]
    assert (record.product, record.asset, record.attempt, record.status) == (
        WEB.name,
        "topics",
        1,
        "succeeded",
    )
    assert record.peak_memory_bytes > 0
    lineage = read_events(settings.state_dir / "lineage" / "events.jsonl")
    assert [(e["job"]["namespace"], e["job"]["name"], e["eventType"]) for e in lineage] == [
        (WEB.name, "topics", "START"),
        (WEB.name, "topics", "COMPLETE"),
    ]
    spool = settings.state_dir / "spool" / PIPELINE_RUNS_TOPIC
    assert spool.is_dir()
    assert list(spool.glob("*.jsonl")) == [], "a drained publisher leaves no segment behind"
