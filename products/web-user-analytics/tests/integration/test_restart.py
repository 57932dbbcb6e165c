"""The pipeline killed (SIGKILL) in the middle of its silver step, then run again: nothing is
lost and nothing doubled — Kafka records = bronze rows = silver events + quarantined rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import orjson
import pytest
from pyspark.sql import SparkSession

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_events.product import collector_app, reconcile_product, topic_specs
from lakehouse_events.segment_client import SegmentClient, as_replay
from lakehouse_platform.orchestrator import run_pipeline
from lakehouse_testing.plugin import KafkaFixture, serve_in_thread
from web_user_analytics.config import load_web_config
from web_user_analytics.ingestion.generator import generate_day
from web_user_analytics.pipeline import WEB, build_pipeline
from web_user_analytics.storage.tables import SILVER_EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.fault]

WRITE_KEY = "restart-write-key"
CLI = Path(sys.executable).with_name("web-user-analytics")


def test_a_pipeline_killed_mid_silver_resumes_without_loss_or_duplicates(
    kafka_broker: KafkaFixture,
    lake_root: str,
    unique_topic: str,
    spark: SparkSession,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {
        "WEB_COLLECTOR__WRITE_KEYS": orjson.dumps([WRITE_KEY]).decode(),
        "WEB_PSEUDONYMISATION_KEY": "restart-key",
        "WEB_TOPICS__EVENTS__NAME": unique_topic,
        "WEB_TOPICS__DEAD_LETTER__NAME": f"{unique_topic}.dlq",
        "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS": kafka_broker.bootstrap_servers,
        "LAKEHOUSE_LAKE_ROOT": lake_root,
        "LAKEHOUSE_STATE_DIR": str(tmp_path / "state"),
        "LAKEHOUSE_SPARK_DRIVER_MEMORY": "1g",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = load_web_config()
    settings = LakehouseSettings()
    ensure_topics(kafka_broker.bootstrap_servers, topic_specs(config.topics))
    with (
        serve_in_thread(collector_app(config, settings)) as url,
        SegmentClient(url, WRITE_KEY) as client,
    ):
        sent = client.send(as_replay(m) for m in generate_day(date(2026, 3, 2), visitors=300, seed=11))

    silver_started = Path(lake_root) / "_checkpoints" / "web-user-analytics" / "silver"
    job = subprocess.Popen(
        [str(CLI), "pipeline"],
        env={**os.environ, **env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not silver_started.exists():
            assert job.poll() is None, "the pipeline ended before it could be interrupted"
            assert time.monotonic() < deadline, "silver never started"
            time.sleep(0.2)
        time.sleep(2.0)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=30)
    interrupted = reconcile_product(
        WEB, config, bootstrap_servers=kafka_broker.bootstrap_servers, lake_root=lake_root
    )
    assert interrupted.kafka == sent.messages
    assert interrupted.silver < sent.messages

    pipeline = build_pipeline(
        config, spark=lambda: spark, bootstrap_servers=kafka_broker.bootstrap_servers, lake_root=lake_root
    )
    assert run_pipeline(pipeline).status == "succeeded"

    counts = reconcile_product(
        WEB, config, bootstrap_servers=kafka_broker.bootstrap_servers, lake_root=lake_root
    )
    assert counts.kafka == counts.bronze == sent.messages
    assert counts.silver + counts.quarantine == counts.bronze
    ids = read_arrow(SILVER_EVENTS.location(lake_root), columns=["event_id"])["event_id"].to_pylist()
    assert len(ids) == len(set(ids)) == counts.silver
    assert counts.sessions > 0
