"""Change data capture through the real stack: PostgreSQL → Debezium on Kafka Connect → Kafka
→ bronze → silver's current state and change history, in one pipeline run."""

import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from datetime import UTC

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse_core.cdc import CHANGE_COLUMNS, CdcTable, PostgresCdcSource, run_cdc_apply
from lakehouse_core.ingestion.bronze import BronzeIngestion, bronze_table, run_bronze_ingestion
from lakehouse_core.kafka.admin import list_topics
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.tables import checkpoint_location, join_location
from lakehouse_platform.operational_app import OperationalApp
from lakehouse_platform.stack.kafka_connect import LocalKafkaConnect
from lakehouse_platform.stack.postgres import LocalPostgres
from lakehouse_testing.plugin import KafkaFixture

pytestmark = pytest.mark.e2e

PRODUCT = "cdc-check"


def _await_key(bootstrap: str, topic: str, key: dict[str, int], timeout: float = 60) -> None:
    """Wait until Debezium has streamed a change of ``key`` (the last change the test made)."""
    deadline = time.monotonic() + timeout
    while topic not in list_topics(bootstrap):
        assert time.monotonic() < deadline, f"{topic} never created"
        time.sleep(0.2)
    consumer = build_consumer(bootstrap, group_id=f"wait-{uuid.uuid4().hex[:6]}", topics=[topic])
    try:
        while time.monotonic() < deadline:
            for batch in consume_batches(consumer, idle_timeout=2):
                if any(m.key() and json.loads(m.key()) == key for m in batch):
                    return
    finally:
        consumer.close()
    raise AssertionError(f"no change of {key} on {topic} within {timeout}s")


def _checksum(rows: Iterable[tuple[object, ...]]) -> str:
    return hashlib.sha256("\n".join(sorted(repr(r) for r in rows)).encode()).hexdigest()


def _drop_slot(server: LocalPostgres, slot: str, database: str) -> None:
    deadline = time.monotonic() + 30
    query = f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"
    while server.execute(query).strip() == "t" and time.monotonic() < deadline:
        time.sleep(0.2)
    server.execute(f"SELECT pg_drop_replication_slot('{slot}')", database=database)


def test_inserts_updates_deletes_and_a_new_column_reach_silver_in_one_run(
    spark: SparkSession,
    kafka_broker: KafkaFixture,
    kafka_connect: LocalKafkaConnect,
    postgres_server: LocalPostgres,
    lake_root: str,
) -> None:
    database = f"shop_{uuid.uuid4().hex[:8]}"
    postgres_server.execute(f'CREATE DATABASE "{database}"', database="postgres")
    c = postgres_server.config
    app = OperationalApp(f"postgresql://{c.user}@{c.host}:{c.port}/{database}", seed=11)
    app.create_schema()
    app.seed(customers=40)
    app.churn(changes=40)

    source = PostgresCdcSource(
        name=f"cdc-{database}",
        host=c.host,
        port=c.port,
        user=c.user,
        database=database,
        tables=("public.customers", "public.orders"),
        topic_prefix=f"cdc.{database}",
    )
    connect = kafka_connect.client
    connect.put_connector(source.name, source.connector_config())
    try:
        connect.await_running(source.name)
        churned = app.churn(changes=60)
        assert churned.deleted > 0
        postgres_server.execute("ALTER TABLE customers ADD COLUMN referral text", database=database)
        postgres_server.execute(
            "UPDATE customers SET referral = 'partner-' || (id % 3) WHERE id % 4 = 0", database=database
        )
        app.seed(customers=3)
        last_order = int(postgres_server.execute("SELECT max(id) FROM orders", database=database))
        postgres_server.execute(
            f"UPDATE orders SET status = 'delivered' WHERE id = {last_order}", database=database
        )
        last = int(postgres_server.execute("SELECT max(id) FROM customers", database=database))
        _await_key(kafka_broker.bootstrap_servers, source.topic("public.customers"), {"id": last})
        _await_key(kafka_broker.bootstrap_servers, source.topic("public.orders"), {"id": last_order})

        bronze = bronze_table(PRODUCT, "changes")
        topics = tuple(source.topic(t) for t in source.tables)
        run_bronze_ingestion(
            spark,
            BronzeIngestion(
                bootstrap_servers=kafka_broker.bootstrap_servers,
                topics=topics,
                table=bronze,
                lake_root=lake_root,
                checkpoint=checkpoint_location(lake_root, PRODUCT, "bronze"),
            ),
        )
        tables = {
            name: CdcTable(
                topic=source.topic(f"public.{name}"),
                keys=("id",),
                bronze_location=bronze.location(lake_root),
                history_location=join_location(lake_root, "silver", PRODUCT, f"{name}_history"),
                current_location=join_location(lake_root, "silver", PRODUCT, name),
                checkpoint=checkpoint_location(lake_root, PRODUCT, f"silver-{name}"),
            )
            for name in ("customers", "orders")
        }
        for table in tables.values():
            run_cdc_apply(spark, table)
    finally:
        connect.delete_connector(source.name)
        _drop_slot(postgres_server, source.slot_name, database)

    customers = spark.read.format("delta").load(tables["customers"].current_location)
    source_customers = [tuple(r) for r in app.rows("customers")]
    silver_customers = [
        tuple(r)
        for r in customers.select("id", "email", "country", "signup_date", "plan", "referral")
        .orderBy("id")
        .collect()
    ]
    assert len(silver_customers) == len(source_customers)
    assert _checksum(silver_customers) == _checksum(source_customers)
    assert any(r[5] for r in silver_customers), "the new column's values reached silver"

    orders = spark.read.format("delta").load(tables["orders"].current_location)
    source_orders = [
        (o[0], o[1], round(float(o[2]), 2), o[3], int(o[4].astimezone(UTC).timestamp() * 1_000_000))
        for o in app.rows("orders")
    ]
    silver_orders = [
        (r[0], r[1], round(r[2], 2), r[3], r[4])
        for r in orders.select("id", "customer_id", "amount", "status", F.unix_micros("updated_at"))
        .orderBy("id")
        .collect()
    ]
    assert len(silver_orders) == len(source_orders)
    assert _checksum(silver_orders) == _checksum(source_orders)

    history = spark.read.format("delta").load(tables["customers"].history_location)
    bronze_rows = (
        spark.read.format("delta")
        .load(bronze.location(lake_root))
        .where((F.col("topic") == tables["customers"].topic) & (F.length("value") > 0))
        .count()
    )
    assert history.count() == bronze_rows, "one history row per change event, none lost or repeated"
    assert {r[0] for r in history.select("_op").distinct().collect()} == {"r", "c", "u", "d"}
    assert set(CHANGE_COLUMNS) <= set(history.columns)
    assert "referral" in history.columns
    last_change: dict[int, tuple[int, int, bool]] = {}
    for key, lsn, offset, was_deleted in history.select("id", "_lsn", "_offset", "_deleted").collect():
        last_change[key] = max(last_change.get(key, (lsn, offset, was_deleted)), (lsn, offset, was_deleted))
    assert any(d for _, _, d in last_change.values()), "deletes were captured"
    assert {k for k, (_, _, d) in last_change.items() if not d} == {r[0] for r in silver_customers}
