"""Processes of the ingestion path killed with SIGKILL in the middle of their work, then started
again: nothing accepted is lost and nothing is doubled.

- The continuous Kafka → bronze stream, killed while events flow in through the collector:
  the restarted bronze step resumes from the checkpoint (it reads less than the whole topic)
  and bronze holds each Kafka record exactly once (Kafka records = bronze rows, no
  (topic, partition, offset) or messageId twice).
- mobile's silver step, killed after it inserted events and before it sessionised them: the
  rerun gives bronze = silver + quarantine with each event id once. Then its gold step, killed
  after it overwrote its first gold table and before its batch was committed: the rerun gives
  exactly the gold of an uninterrupted run on a copy of the lake, and gold agrees with silver
  (sessions, crashed sessions, devices, events and screen views each counted once). web's
  silver kill is products/web-user-analytics/tests/integration/test_restart.py.
- The collector, killed under load and started again: the client's retries finish, every
  acknowledged messageId is in Kafka (re-sent ones perhaps twice) and silver holds each
  exactly once.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pyspark.sql import SparkSession

from lakehouse_testing.plugin import KafkaFixture, free_port
from mobile_user_analytics.storage import tables as mobile_tables
from tests.fault.conftest import PacedSender, Process, Rig, answers, delta_version_exists

pytestmark = [pytest.mark.fault, pytest.mark.e2e]


def test_ingestion_killed_mid_stream_resumes_from_its_checkpoint(
    rig: Callable[..., Rig], kafka_broker: KafkaFixture, spark: SparkSession
) -> None:
    web = rig("web", bootstrap_servers=kafka_broker.bootstrap_servers)
    web.create_topics()
    messages = web.generate(150)
    ingest = web.start("ingest", "--trigger-seconds", "1")
    try:
        ingest.wait_for((web.checkpoint("bronze") / "metadata").is_file, "the stream to start")
        with web.collector() as url, web.client(url) as client:
            sender = PacedSender(client, messages)
            sender.start()
            try:
                ingest.wait_for(lambda: web.rows(web.product.bronze) > 0, "the stream's first bronze rows")
                ingest.kill()
                still_to_send = len(sender.chunks) - sender.batches_done
            finally:
                sender.finish()
    finally:
        ingest.kill()
    assert still_to_send > 0, "the load had ended before the kill"
    bronze_before_restart = web.rows(web.product.bronze)

    restart = web.pipeline(spark, "topics", "bronze")

    counts = web.reconcile()
    assert sender.retries == 0
    assert counts.kafka == counts.bronze == len(sender.acknowledged) == len(messages)
    locations, message_ids = web.bronze_records()
    assert len(set(locations)) == len(locations) == counts.kafka
    assert sorted(message_ids) == sorted(m["messageId"] for m in messages)
    assert 0 < bronze_before_restart < counts.kafka
    resumed = restart.task("bronze").outputs["records"]
    assert counts.kafka - bronze_before_restart <= resumed < counts.kafka, "the stream re-read the topic"


def test_mobile_jobs_killed_mid_silver_then_mid_gold_rerun_to_an_uninterrupted_result(
    rig: Callable[..., Rig], kafka_broker: KafkaFixture, spark: SparkSession
) -> None:
    mobile = rig("mobile", bootstrap_servers=kafka_broker.bootstrap_servers)
    mobile.create_topics()
    with mobile.collector() as url, mobile.client(url) as client:
        sent = client.send(mobile.generate(40))
    mobile.pipeline(spark, "topics", "bronze")

    silver = mobile.start("pipeline", "--step", "silver")
    try:
        events_inserted = mobile.location(mobile_tables.SILVER_EVENTS)
        silver.wait_for(lambda: delta_version_exists(events_inserted, 1), "silver's first insert")
    finally:
        silver.kill()
    assert not (mobile.checkpoint("silver") / "commits" / "0").exists(), "silver finished before the kill"
    assert mobile.reconcile().sessions == 0, "the kill came after sessionisation"

    mobile.pipeline(spark, "silver")

    counts = mobile.reconcile()
    assert counts.kafka == counts.bronze == sent.messages
    assert counts.silver + counts.quarantine == counts.bronze
    event_ids = mobile.silver_event_ids()
    assert len(event_ids) == len(set(event_ids)) == counts.silver
    assert counts.sessions > 0
    clean = mobile.copy_lake("clean-lake")

    gold = mobile.start("pipeline", "--step", "gold")
    first_gold_write = mobile.location(mobile_tables.GOLD_SESSION_STATS)
    killed = gold.kill_when(lambda: delta_version_exists(first_gold_write, 1), "gold's first write")
    try:
        clean.pipeline(spark, "gold")  # the uninterrupted run, while the other one starts
    finally:
        killed()
    assert not (mobile.checkpoint("gold") / "commits" / "0").exists(), "gold finished before the kill"

    mobile.pipeline(spark, "gold")

    expected = clean.gold()
    assert all(expected.values()), {name: len(rows) for name, rows in expected.items()}
    assert mobile.gold() == expected
    # and gold against silver, read without Spark: a replayed batch counted twice would show here
    crashed = mobile.column(mobile_tables.SILVER_SESSIONS, "crashed")
    assert sum(mobile.column(mobile_tables.GOLD_CRASH_FREE, "sessions")) == len(crashed) == counts.sessions
    assert sum(mobile.column(mobile_tables.GOLD_CRASH_FREE, "crashed_sessions")) == sum(crashed) > 0
    devices = mobile.column(mobile_tables.GOLD_DEVICES, "device_key")
    assert sorted(devices) == sorted(set(mobile.column(mobile_tables.SILVER_EVENTS, "device_key")))
    assert sum(mobile.column(mobile_tables.GOLD_DEVICES, "events")) == counts.silver
    views = mobile.rows(mobile_tables.SILVER_SCREEN_VIEWS)
    assert sum(mobile.column(mobile_tables.GOLD_SCREEN_STATS, "views")) == views > 0


def test_collector_killed_under_load_loses_nothing_and_silver_holds_each_event_once(
    rig: Callable[..., Rig], kafka_broker: KafkaFixture, spark: SparkSession
) -> None:
    web = rig("web", bootstrap_servers=kafka_broker.bootstrap_servers)
    web.create_topics()
    messages = web.generate(150)
    port = {"WEB_COLLECTOR__PORT": str(free_port())}
    url = f"http://127.0.0.1:{port['WEB_COLLECTOR__PORT']}"
    collectors: list[Process] = [web.start("collector", env=port)]
    try:
        collectors[0].wait_for(lambda: answers(url), "the collector to listen", timeout=60)
        with web.client(url) as client:
            sender = PacedSender(client, messages)
            sender.start()
            try:
                collectors[0].wait_for(lambda: sender.batches_done >= 10, "ten acknowledged batches")
                collectors[0].kill()
                still_to_send = len(sender.chunks) - sender.batches_done
                sender.hold.set()
                collectors.append(web.start("collector", env=port))
                collectors[1].wait_for(lambda: answers(url), "the restarted collector", timeout=60)
            finally:
                sender.finish()
    finally:
        for collector in collectors:
            collector.kill()
    assert still_to_send > 0, "the load had ended before the kill"
    assert sender.retries > 0, "no request met the killed collector"

    web.pipeline(spark, "topics", "bronze", "silver")

    sent_ids = sorted(m["messageId"] for m in messages)
    assert sorted(sender.acknowledged) == sent_ids
    kafka_ids = web.kafka_message_ids()
    assert set(kafka_ids) == set(sent_ids), "an acknowledged event is missing from Kafka"
    counts = web.reconcile()
    assert counts.kafka == counts.bronze == len(kafka_ids) >= len(sent_ids)
    assert sorted(web.silver_event_ids()) == sent_ids
    assert counts.quarantine == counts.kafka - len(sent_ids), "re-sent copies are not the quarantined rows"
