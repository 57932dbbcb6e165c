"""The operational sources through the real components: a customer inserted, updated and
deleted in PostgreSQL reaches silver through Debezium, Kafka and bronze in one run and lands in
the person's features under the subject key tracking gives the same user id; payments from a
local payments API land once and refine to silver, a later run upserting only the changed ones."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse_core.ingestion.bronze import to_bronze
from lakehouse_core.privacy import platform_subject_key
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.sources.http_api import ApiAuth, HttpApiSource, Pagination
from lakehouse_platform.stack.kafka_connect import LocalKafkaConnect
from lakehouse_platform.stack.postgres import LocalPostgres
from lakehouse_testing.cdc import await_last_changes, captured_shop
from lakehouse_testing.payments_api import TOKEN, PaymentsState, payments_api
from lakehouse_testing.plugin import KafkaFixture
from user_segmentation.config import CdcConfig, OperationalConfig, PaymentsConfig
from user_segmentation.processing.features import person_features
from user_segmentation.processing.operational import person_operational
from user_segmentation.processing.operational_jobs import read_operational, run_operational
from user_segmentation.storage.tables import CUSTOMERS, CUSTOMERS_HISTORY, ORDERS, PAYMENTS

USER_ID = "usr_0a1b2c3d4e5f"
AS_OF = date(2026, 3, 31)
ATTRIBUTED = (
    "node_id string, event_ts timestamp, event_date date, platform string, session_key string, "
    "is_activity boolean, is_order boolean, revenue double, person_id string, person_subject_key string, "
    "funnel_step int"
)


def tracking_subject_key(spark: SparkSession, user_id: str) -> str:
    """The subject key tracking's bronze gives a Segment message of ``user_id``."""
    message = spark.createDataFrame(
        [(None, f'{{"userId": "{user_id}", "type": "track"}}', "web.events.v1", 0, 0, datetime.now(tz=UTC))],
        "key binary, value string, topic string, partition int, offset long, timestamp timestamp",
    )
    return str(to_bronze(message, subject_key=platform_subject_key()).first()["subject_key"])


@pytest.mark.e2e
def test_a_captured_customer_reaches_silver_and_the_persons_features(
    spark: SparkSession,
    kafka_broker: KafkaFixture,
    kafka_connect: LocalKafkaConnect,
    postgres_server: LocalPostgres,
    lake_root: str,
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    with captured_shop(postgres_server, kafka_connect, seed=5, customers=3) as shop:
        shop.app.seed(customers=1, orders_per_customer=0, user_ids=[USER_ID])
        ana = shop.last_id("customers")
        shop.sql(f"UPDATE customers SET plan = 'pro', country = 'JP' WHERE id = {ana}")
        shop.sql(
            "INSERT INTO orders (id, customer_id, amount, status, updated_at) VALUES "
            f"(1000, {ana}, 40.00, 'paid', now()), (1001, {ana}, 10.00, 'refunded', now())"
        )
        shop.sql("DELETE FROM customers WHERE id = 1")
        shop.app.seed(customers=1)
        await_last_changes(bootstrap, shop)
        config = OperationalConfig(cdc=CdcConfig(topic_prefix=shop.source.topic_prefix))
        run = run_operational(
            spark, config, LakehouseSettings(), lake_root=lake_root, bootstrap_servers=bootstrap
        )
        source_ids = sorted(shop.app.user_ids())
        paid = float(
            shop.sql(
                f"SELECT sum(amount) FROM orders WHERE customer_id = {ana} "
                "AND status IN ('paid', 'shipped', 'delivered')"
            )
        )

    assert run.missing == {"payments": "operational.payments is not enabled"}
    customers = spark.read.format("delta").load(CUSTOMERS.location(lake_root))
    assert sorted(r.id for r in customers.select("id").collect()) == source_ids
    assert 1 not in source_ids
    history = spark.read.format("delta").load(CUSTOMERS_HISTORY.location(lake_root))
    assert history.where((F.col("id") == 1) & F.col("_deleted")).count() == 1, "the delete is in the history"
    row = customers.where(F.col("id") == ana).first()
    key = tracking_subject_key(spark, USER_ID)
    assert (row["user_id"], row["plan"], row["country"], row["subject_key"]) == (USER_ID, "pro", "JP", key)
    orders = spark.read.format("delta").load(ORDERS.location(lake_root)).where(F.col("customer_id") == ana)
    assert {(r.id, r.subject_key) for r in orders.collect()} == {(1000, key), (1001, key)}

    operational = read_operational(spark, lake_root=lake_root)
    assert operational is not None
    nodes = spark.createDataFrame(
        [(f"subject:{key}", key, "p_ana")], "node_id string, subject_key string, person_id string"
    )
    seen = datetime(2026, 3, 30, 9)
    events = spark.createDataFrame(
        [(f"subject:{key}", seen, seen.date(), "web", "web:s1", True, False, None, "p_ana", key, 0)],
        ATTRIBUTED,
    )
    attributes = person_operational(
        nodes,
        operational["customers"],
        operational["orders"],
        operational["payments"],
        as_of=AS_OF,
        paid_order_statuses=config.paid_order_statuses,
    )
    features = person_features(events, as_of=AS_OF, operational=attributes).first()

    assert (features["subject_key"], features["plan"], features["country"]) == (key, "pro", "JP")
    assert paid >= 40.0
    assert features["order_value"] == pytest.approx(paid)
    assert features["payments_90d"] is None


@pytest.mark.integration
def test_payments_land_and_refine_to_silver_with_the_payers_subject_key(
    spark: SparkSession, lake_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGMENTS_TEST_PAYMENTS_TOKEN", TOKEN)
    state = PaymentsState(rate_limit_every=3)
    first, second, *_ = state.add(5)
    state.update(first, status="refunded")
    with payments_api(state) as url:
        source = HttpApiSource(
            name="payments",
            base_url=url,
            path="/v1/payments",
            pagination=Pagination.CURSOR,
            page_size=2,
            subject_field="customer.id",
            auth=ApiAuth(env="SEGMENTS_TEST_PAYMENTS_TOKEN"),
        )
        config = OperationalConfig(
            cdc=CdcConfig(enabled=False), payments=PaymentsConfig(enabled=True, source=source)
        )
        run = run_operational(spark, config, LakehouseSettings(), lake_root=lake_root, bootstrap_servers="-")
        assert 429 in state.statuses, "the rate limit was met and retried"
        assert (run.payments_landed, run.payments) == (5, 5)
        assert run.missing == {"cdc": "operational.cdc.enabled is false"}
        operational = read_operational(spark, lake_root=lake_root)
        assert operational is not None
        silver = {r.payment_id: r for r in operational["payments"].collect()}
        assert (silver[first].status, silver[first].paid) == ("refunded", False)
        assert sum(1 for p in silver.values() if p.paid) == 4
        payer = state.payments[first]["customer"]["id"]
        assert silver[first].user_id == payer
        assert silver[first].subject_key == tracking_subject_key(spark, payer)

        state.update(second, status="failed")
        state.add(2)
        again = run_operational(
            spark, config, LakehouseSettings(), lake_root=lake_root, bootstrap_servers="-"
        )

    assert (again.payments_landed, again.payments) == (3, 7)
    refined = {
        r.payment_id: r for r in spark.read.format("delta").load(PAYMENTS.location(lake_root)).collect()
    }
    assert (refined[second].status, refined[second].paid) == ("failed", False)
    assert refined[first] == silver[first], "a payment unchanged at the source is left as it was"
    [commit] = DeltaTable(PAYMENTS.location(lake_root)).history(limit=1)
    assert commit["operation"] == "MERGE"
    changed = commit["operationMetrics"]
    assert (int(changed["numTargetRowsUpdated"]), int(changed["numTargetRowsInserted"])) == (1, 2), changed
