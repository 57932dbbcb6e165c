"""The spooled publisher against real brokers: a broker that is down, stopped and started again,
and a process that died with records in its spool."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse_core.kafka.admin import TopicSpec
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.kafka.spool import REJECTED_SUFFIX, SEGMENT_SUFFIX, SpooledPublisher
from lakehouse_core.platform_topics import AuditRecord
from lakehouse_platform.stack.kafka_broker import LocalKafkaBroker
from lakehouse_testing.plugin import KafkaFixture, free_port, running_broker

pytestmark = pytest.mark.integration


def audit(number: int) -> AuditRecord:
    return AuditRecord(
        service="spool-test",
        action="read",
        resource_type="endpoint",
        resource=f"GET /v1/things/{number}",
        outcome="succeeded",
    )


def ids_on(bootstrap_servers: str, topic: str) -> list[str]:
    """The record ids on ``topic``, in the order a consumer reads them, duplicates included."""
    consumer = build_consumer(bootstrap_servers, group_id=f"check-{topic}-{time.time_ns()}", topics=[topic])
    try:
        return [
            AuditRecord.model_validate_json(m.value() or b"").record_id
            for batch in consume_batches(consumer, idle_timeout=3)
            for m in batch
        ]
    finally:
        consumer.close()


def once_each(ids: list[str]) -> list[str]:
    """What a consumer that deduplicates by id keeps: first occurrences, in order."""
    return list(dict.fromkeys(ids))


def segments(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"*{SEGMENT_SUFFIX}"))


def test_without_a_broker_publishing_returns_at_once_and_every_record_stays_spooled(tmp_path: Path) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    publisher = SpooledPublisher(nowhere, TopicSpec("spool.nowhere", partitions=1), spool_dir=tmp_path)
    records = [audit(n) for n in range(200)]
    slowest = 0.0
    for record in records:
        started = time.perf_counter()
        publisher.publish(record, key="k")
        slowest = max(slowest, time.perf_counter() - started)

    assert slowest < 0.05, f"a publish took {slowest * 1000:.0f} ms"
    assert publisher.pending() == len(records)
    assert publisher.close(timeout=0.5) == len(records)
    [segment] = segments(tmp_path)
    spooled = [json.loads(line) for line in segment.read_text().splitlines()]
    assert [s["value"]["record_id"] for s in spooled] == [r.record_id for r in records]
    assert {s["key"] for s in spooled} == {"k"}


DYING_PUBLISHER = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from lakehouse_core.kafka.admin import TopicSpec
    from lakehouse_core.kafka.spool import SpooledPublisher
    from lakehouse_core.platform_topics import AuditRecord

    bootstrap, topic, folder = sys.argv[1:4]
    publisher = SpooledPublisher(bootstrap, TopicSpec(topic, partitions=1), spool_dir=Path(folder))
    ids = []
    for n in range(25):
        record = AuditRecord(
            service="dying", action="erase", resource_type="table", resource=f"t{n}", outcome="succeeded"
        )
        publisher.publish(record, key="dying")
        ids.append(record.record_id)
    print(json.dumps(ids), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_new_publisher_sends_what_a_killed_process_left_in_the_spool(
    kafka_broker: KafkaFixture, unique_topic: str, tmp_path: Path
) -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    died = subprocess.run(
        [sys.executable, "-c", DYING_PUBLISHER, nowhere, unique_topic, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert died.returncode == -9, died.stderr
    left = json.loads(died.stdout)
    [orphan] = segments(tmp_path)
    with orphan.open("ab") as torn:  # the last write of a process killed while writing
        torn.write(b'{"key": "dying", "value": {"record_')

    with SpooledPublisher(
        kafka_broker.bootstrap_servers, TopicSpec(unique_topic, partitions=1), spool_dir=tmp_path
    ) as successor:
        assert successor.pending() == len(left), "the dead process's segment was not adopted at start"
        assert successor.flush(timeout=60), f"{successor.pending()} records still spooled"

    received = ids_on(kafka_broker.bootstrap_servers, unique_topic)
    assert once_each(received) == left
    assert segments(tmp_path) == []
    assert orphan.with_suffix(REJECTED_SUFFIX).read_text() == '{"key": "dying", "value": {"record_\n'


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafkaBroker]:
    """A broker for one test alone, so stopping it hurts no other test."""
    with running_broker(tmp_path / "own-kafka") as broker:
        yield broker


@pytest.mark.fault
def test_records_published_while_the_broker_is_down_arrive_in_order_once_it_is_back(
    own_broker: LocalKafkaBroker, tmp_path: Path
) -> None:
    bootstrap = own_broker.config.bootstrap_servers
    topic = "spool.outage.v1"
    publisher = SpooledPublisher(
        bootstrap,
        TopicSpec(topic, partitions=1),
        spool_dir=tmp_path / "spool",
        ack_timeout=2.0,
        max_backoff=1.0,
    )
    try:
        before = [audit(n) for n in range(20)]
        for record in before:
            publisher.publish(record, key="k")
        assert publisher.flush(timeout=60), "the broker did not take the records while up"

        own_broker.stop()
        during = [audit(n) for n in range(20, 50)]
        started = time.perf_counter()
        for record in during:
            publisher.publish(record, key="k")
        publishing = time.perf_counter() - started
        time.sleep(3)  # the sender meets the stopped broker
        spooled_while_down = publisher.pending()

        own_broker.start(timeout=120)
        after = [audit(n) for n in range(50, 60)]
        for record in after:
            publisher.publish(record, key="k")
        assert publisher.flush(timeout=120), f"{publisher.pending()} records still spooled after restart"
    finally:
        publisher.close(timeout=1.0)

    assert publishing < 0.5, f"30 publishes took {publishing:.2f}s with the broker down"
    assert spooled_while_down == len(during)
    received = ids_on(bootstrap, topic)
    assert once_each(received) == [r.record_id for r in [*before, *during, *after]]
