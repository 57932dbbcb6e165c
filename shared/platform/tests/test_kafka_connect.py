"""The local Kafka Connect worker with Debezium's PostgreSQL connector, against a real
PostgreSQL and broker: a snapshot of the existing rows first, then the streamed changes."""

import json
import time
import uuid

import pytest

from lakehouse_core.cdc import PostgresCdcSource
from lakehouse_core.kafka.admin import list_topics
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_platform.stack.kafka_connect import LocalKafkaConnect
from lakehouse_platform.stack.postgres import LocalPostgres
from lakehouse_testing.plugin import KafkaFixture

pytestmark = pytest.mark.integration


def _changes(bootstrap: str, topic: str, expected: int) -> list[tuple[dict[str, int], dict | None]]:
    deadline = time.monotonic() + 60
    while topic not in list_topics(bootstrap) and time.monotonic() < deadline:
        time.sleep(0.2)
    consumer = build_consumer(bootstrap, group_id=f"check-{uuid.uuid4().hex[:6]}", topics=[topic])
    seen: list[tuple[dict[str, int], dict | None]] = []
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            for batch in consume_batches(consumer, idle_timeout=2):
                for message in batch:
                    value = message.value()
                    seen.append((json.loads(message.key()), json.loads(value)["payload"] if value else None))
    finally:
        consumer.close()
    return seen


def drop_slot(server: LocalPostgres, slot: str) -> None:
    """Drop a deleted connector's replication slot once its task let go of it."""
    deadline = time.monotonic() + 30
    query = f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"
    while server.execute(query).strip() == "t" and time.monotonic() < deadline:
        time.sleep(0.2)
    server.execute(f"SELECT pg_drop_replication_slot('{slot}')")


def test_snapshot_then_inserts_updates_and_deletes_stream_in_log_order(
    kafka_connect: LocalKafkaConnect, postgres_server: LocalPostgres, kafka_broker: KafkaFixture
) -> None:
    assert "io.debezium.connector.postgresql.PostgresConnector" in kafka_connect.client.plugins()
    table = f"plans_{uuid.uuid4().hex[:6]}"
    postgres_server.execute(
        f"CREATE TABLE {table} (id bigint PRIMARY KEY, plan text); INSERT INTO {table} VALUES (1, 'free')"
    )
    source = PostgresCdcSource(
        name=f"check-{table}",
        host=postgres_server.config.host,
        port=postgres_server.config.port,
        user=postgres_server.config.user,
        database=postgres_server.config.database,
        tables=(f"public.{table}",),
        topic_prefix=f"cdc.{table}",
    )
    kafka_connect.client.put_connector(source.name, source.connector_config())
    try:
        kafka_connect.client.await_running(source.name)
        postgres_server.execute(
            f"INSERT INTO {table} VALUES (2, 'pro'); UPDATE {table} SET plan = 'team' WHERE id = 1; "
            f"DELETE FROM {table} WHERE id = 2"
        )
        changes = _changes(kafka_broker.bootstrap_servers, source.topic(f"public.{table}"), expected=4)
    finally:
        kafka_connect.client.delete_connector(source.name)
        drop_slot(postgres_server, source.slot_name)

    assert [(key["id"], value and value["op"]) for key, value in changes] == [
        (1, "r"),
        (2, "c"),
        (1, "u"),
        (2, "d"),
    ]
    snapshot, insert, update, delete = (value for _, value in changes)
    assert snapshot["after"] == {"id": 1, "plan": "free"}
    assert update["before"] is None or update["before"]["id"] == 1
    assert update["after"]["plan"] == "team"
    assert delete["before"]["id"] == 2
    assert delete["after"] is None
    lsns = [insert["source"]["lsn"], update["source"]["lsn"], delete["source"]["lsn"]]
    assert lsns == sorted(lsns)
