"""The local broker: started, probed, killed and restarted for real."""

import base64
import socket
from pathlib import Path

import pytest

from lakehouse_core.kafka.admin import TopicSpec, ensure_topics, list_topics
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_platform.stack import kafka_broker
from lakehouse_platform.stack.kafka_broker import LocalKafkaBroker, StackError
from lakehouse_testing.plugin import local_broker

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path: Path) -> LocalKafkaBroker:
    instance = local_broker(tmp_path / "kafka")
    yield instance
    instance.purge()


def test_up_twice_runs_one_broker_and_a_crash_keeps_the_data(broker: LocalKafkaBroker) -> None:
    first = broker.start()
    assert first.running
    assert broker.start().pid == first.pid

    bootstrap = broker.config.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec("orders.v1", partitions=1)])
    with EventProducer(bootstrap) as producer:
        producer.send_all(OutgoingMessage("orders.v1", f"o{i}".encode()) for i in range(20))

    broker.kill()
    assert not broker.status().running
    restarted = broker.start()
    assert restarted.running
    assert restarted.pid != first.pid

    assert "orders.v1" in list_topics(bootstrap)
    consumer = build_consumer(bootstrap, group_id="recovery", topics=["orders.v1"])
    try:
        values = [m.value().decode() for batch in consume_batches(consumer, idle_timeout=3) for m in batch]
    finally:
        consumer.close()
    assert values == [f"o{i}" for i in range(20)]

    assert broker.stop()
    assert not broker.status().running
    assert not broker.stop()


def test_port_taken_is_reported(broker: LocalKafkaBroker) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", broker.config.port))
        squatter.listen()
        with pytest.raises(StackError, match=f"port {broker.config.port} on 127.0.0.1 is in use"):
            broker.start()
    assert not broker.status().running


def test_missing_java_is_reported(broker: LocalKafkaBroker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(StackError, match="Java not found"):
        broker.start()


def test_broker_that_exits_reports_its_log(broker: LocalKafkaBroker) -> None:
    broker.start()
    broker.stop()
    (broker.data_dir / "meta.properties").write_text("version=1\ncluster.id=garbage\nnode.id=99\n")
    with pytest.raises(StackError, match="exited during start-up"):
        broker.start(timeout=60)


def test_cluster_ids_never_start_with_a_dash() -> None:
    ids = [kafka_broker.new_cluster_id() for _ in range(5000)]
    assert not [i for i in ids if i.startswith("-")]
    assert len(set(ids)) == 5000
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
