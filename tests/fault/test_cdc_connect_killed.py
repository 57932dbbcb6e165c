"""The Kafka Connect worker killed (SIGKILL) while the operational app keeps writing: after a
restart Debezium resumes from its committed log position, and one pipeline run leaves silver's
current state equal to the source, each change once in the history."""

import pytest
from pyspark.sql import SparkSession

from lakehouse_platform.stack.kafka_connect import LocalKafkaConnect
from lakehouse_platform.stack.postgres import LocalPostgres
from lakehouse_testing.cdc import await_last_changes, captured_shop, checksum, run_pipeline
from lakehouse_testing.plugin import KafkaFixture

pytestmark = [pytest.mark.e2e, pytest.mark.fault]


def test_a_killed_connect_worker_loses_and_duplicates_no_change(
    spark: SparkSession,
    kafka_broker: KafkaFixture,
    kafka_connect: LocalKafkaConnect,
    postgres_server: LocalPostgres,
    lake_root: str,
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    with captured_shop(postgres_server, kafka_connect, seed=5, customers=30) as shop:
        shop.app.churn(changes=40)
        kafka_connect.kill()
        assert not kafka_connect.status().running
        shop.app.churn(changes=40)
        kafka_connect.start()
        kafka_connect.client.await_running(shop.source.name)
        shop.app.churn(changes=20)
        await_last_changes(bootstrap, shop)
        tables = run_pipeline(spark, bootstrap, shop, lake_root)

    columns = ("id", "email", "country", "signup_date", "plan")
    current = spark.read.format("delta").load(tables["customers"].current_location).select(*columns)
    silver = [tuple(r) for r in current.collect()]
    source = [tuple(r) for r in shop.app.rows("customers")]
    assert len(silver) == len(source)
    assert checksum(silver) == checksum(source)

    orders = spark.read.format("delta").load(tables["orders"].current_location)
    assert sorted(r.id for r in orders.select("id").collect()) == [o[0] for o in shop.app.rows("orders")]

    history = spark.read.format("delta").load(tables["customers"].history_location)
    assert history.count() == history.dropDuplicates(["id", "_lsn", "_op"]).count()
