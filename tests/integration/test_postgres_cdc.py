"""Change data capture through the real stack: PostgreSQL → Debezium on Kafka Connect → Kafka
→ bronze → silver's current state and change history, in one pipeline run."""

from datetime import UTC

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse_core.cdc import CHANGE_COLUMNS
from lakehouse_platform.stack.kafka_connect import LocalKafkaConnect
from lakehouse_platform.stack.postgres import LocalPostgres
from lakehouse_testing.cdc import await_last_changes, captured_shop, checksum, run_pipeline
from lakehouse_testing.plugin import KafkaFixture

pytestmark = pytest.mark.e2e


def test_inserts_updates_deletes_and_a_new_column_reach_silver_in_one_run(
    spark: SparkSession,
    kafka_broker: KafkaFixture,
    kafka_connect: LocalKafkaConnect,
    postgres_server: LocalPostgres,
    lake_root: str,
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    with captured_shop(postgres_server, kafka_connect, seed=11, customers=40) as shop:
        churned = shop.app.churn(changes=100)
        assert churned.deleted > 0
        shop.sql("ALTER TABLE customers ADD COLUMN referral text")
        shop.sql("UPDATE customers SET referral = 'partner-' || (id % 3) WHERE id % 4 = 0")
        shop.app.seed(customers=3)
        await_last_changes(bootstrap, shop)
        tables = run_pipeline(spark, bootstrap, shop, lake_root)

    customers = spark.read.format("delta").load(tables["customers"].current_location)
    source_customers = [tuple(r) for r in shop.app.rows("customers")]
    silver_customers = [
        tuple(r)
        for r in customers.select("id", "email", "country", "signup_date", "plan", "referral")
        .orderBy("id")
        .collect()
    ]
    assert len(silver_customers) == len(source_customers)
    assert checksum(silver_customers) == checksum(source_customers)
    assert any(r[5] for r in silver_customers), "the new column's values reached silver"

    orders = spark.read.format("delta").load(tables["orders"].current_location)
    source_orders = [
        (o[0], o[1], round(float(o[2]), 2), o[3], int(o[4].astimezone(UTC).timestamp() * 1_000_000))
        for o in shop.app.rows("orders")
    ]
    silver_orders = [
        (r[0], r[1], round(r[2], 2), r[3], r[4])
        for r in orders.select("id", "customer_id", "amount", "status", F.unix_micros("updated_at"))
        .orderBy("id")
        .collect()
    ]
    assert len(silver_orders) == len(source_orders)
    assert checksum(silver_orders) == checksum(source_orders)

    history = spark.read.format("delta").load(tables["customers"].history_location)
    bronze_rows = (
        spark.read.format("delta")
        .load(tables["customers"].bronze_location)
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
