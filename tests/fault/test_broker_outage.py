"""The Kafka broker stopped while the collector is under load, then started again.

While the broker is down the collector answers 503 (never 200 for an event Kafka did not
take) and ``/ready`` reports failing; once the broker is back it answers 200 and ``/ready``
passes again. The client's retries complete; every event the collector acknowledged (its
``accepted`` counter equals what the client saw acknowledged) is in Kafka, and after
bronze → silver each messageId is in silver exactly once (Kafka may hold re-sent copies,
which go to quarantine).

The test starts a broker of its own: stopping the session's shared one would hurt other tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pyspark.sql import SparkSession

from lakehouse_platform.stack.kafka_broker import LocalKafkaBroker
from tests.fault.conftest import WRITE_KEY, PacedSender, Rig, wait_until

pytestmark = [pytest.mark.fault, pytest.mark.e2e]


def probe(template: dict[str, Any], message_id: str) -> dict[str, Any]:
    """One more tracking call, like ``template`` but with its own messageId, as a batch."""
    return {"batch": [{**template, "messageId": message_id}]}


def events_counted(metrics: str, outcome: str) -> float:
    found = re.search(rf'lakehouse_collector_events_total\{{outcome="{outcome}"\}} (\S+)', metrics)
    return float(found.group(1)) if found else 0.0


def test_collector_refuses_while_the_broker_is_down_and_loses_nothing_it_acknowledged(
    rig: Callable[..., Rig], own_broker: LocalKafkaBroker, spark: SparkSession
) -> None:
    web = rig("web", bootstrap_servers=own_broker.config.bootstrap_servers)
    web.create_topics()
    messages = web.generate(150)
    with (
        web.collector() as url,
        web.client(url) as client,
        httpx.Client(base_url=url, auth=(WRITE_KEY, ""), timeout=60) as http,
    ):
        assert http.get("/ready").status_code == 200
        sender = PacedSender(client, messages)
        sender.start()
        try:
            wait_until(lambda: sender.batches_done >= 10, "ten acknowledged batches")
            own_broker.stop()
            still_to_send = len(sender.chunks) - sender.batches_done
            sender.hold.set()
            while_down = http.post("/v1/batch", json=probe(messages[0], "probe-while-down"))
            ready_while_down = http.get("/ready")
            own_broker.start(timeout=120)
            wait_until(lambda: http.get("/ready").status_code == 200, "/ready after the restart", timeout=60)
            after_restart = http.post("/v1/batch", json=probe(messages[0], "probe-after-restart"))
        finally:
            sender.finish(timeout=300)
        metrics = http.get("/metrics").text

    assert still_to_send > 0, "the load had ended before the broker stopped"
    assert (while_down.status_code, ready_while_down.status_code) == (503, 503), while_down.text
    assert "did not acknowledge" in while_down.json()["error"]
    assert after_restart.status_code == 200, after_restart.text
    assert sender.retries > 0, "no request met the stopped broker"
    acknowledged = [*sender.acknowledged, "probe-after-restart"]
    assert sorted(sender.acknowledged) == sorted(m["messageId"] for m in messages)
    assert events_counted(metrics, "accepted") == len(acknowledged), "a 200 the client did not see"
    assert events_counted(metrics, "unavailable") > 0

    kafka_ids = web.kafka_message_ids()
    assert set(acknowledged) <= set(kafka_ids), "an acknowledged event is missing from Kafka"

    web.pipeline(spark, "topics", "bronze", "silver")

    counts = web.reconcile()
    assert counts.kafka == counts.bronze == len(kafka_ids)
    assert counts.silver + counts.quarantine == counts.bronze
    silver_ids = web.silver_event_ids()
    assert sorted(silver_ids) == sorted(set(kafka_ids))
    assert counts.quarantine == len(kafka_ids) - len(set(kafka_ids))
