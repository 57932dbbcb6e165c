"""Helpers of the change-data-capture tests: a fresh database with the demo app and its Debezium
connector on the session's Connect worker, waiting for a change to reach Kafka, one pipeline run
(bronze, then silver per table) and order-free checksums of rows."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lakehouse_core.cdc import CdcTable, PostgresCdcSource, run_cdc_apply
from lakehouse_core.ingestion.bronze import BronzeIngestion, bronze_table, run_bronze_ingestion
from lakehouse_core.kafka.admin import list_topics
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.tables import checkpoint_location, join_location
from lakehouse_platform.operational_app import OperationalApp

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse_platform.stack.kafka_connect import LocalKafkaConnect
    from lakehouse_platform.stack.postgres import LocalPostgres

PRODUCT = "cdc-check"


@dataclass(frozen=True)
class CapturedShop:
    database: str
    app: OperationalApp
    source: PostgresCdcSource
    server: LocalPostgres

    def sql(self, statement: str) -> str:
        return self.server.execute(statement, database=self.database)

    def last_id(self, table: str) -> int:
        return int(self.sql(f"SELECT max(id) FROM {table}"))


@contextmanager
def captured_shop(
    server: LocalPostgres, connect: LocalKafkaConnect, *, seed: int, customers: int
) -> Iterator[CapturedShop]:
    """A new database with the demo app's schema and ``customers`` customers, captured by a
    Debezium connector (running when the block starts); connector and slot removed after it."""
    database = f"shop_{uuid.uuid4().hex[:8]}"
    server.execute(f'CREATE DATABASE "{database}"', database="postgres")
    c = server.config
    app = OperationalApp(f"postgresql://{c.user}@{c.host}:{c.port}/{database}", seed=seed)
    app.create_schema()
    app.seed(customers=customers)
    source = PostgresCdcSource(
        name=f"cdc-{database}",
        host=c.host,
        port=c.port,
        user=c.user,
        database=database,
        tables=("public.customers", "public.orders"),
        topic_prefix=f"cdc.{database}",
    )
    connect.client.put_connector(source.name, source.connector_config())
    try:
        connect.client.await_running(source.name)
        yield CapturedShop(database, app, source, server)
    finally:
        connect.client.delete_connector(source.name)
        _drop_slot(server, source.slot_name, database)


def _drop_slot(server: LocalPostgres, slot: str, database: str) -> None:
    deadline = time.monotonic() + 30
    query = f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"
    while server.execute(query).strip() == "t" and time.monotonic() < deadline:
        time.sleep(0.2)
    server.execute(f"SELECT pg_drop_replication_slot('{slot}')", database=database)


def await_key(bootstrap: str, topic: str, key: dict[str, int], timeout: float = 90) -> None:
    """Wait until a change of ``key`` is on ``topic`` (the last change a test made)."""
    deadline = time.monotonic() + timeout
    while topic not in list_topics(bootstrap):
        if time.monotonic() > deadline:
            raise AssertionError(f"{topic} never created")
        time.sleep(0.2)
    consumer = build_consumer(bootstrap, group_id=f"wait-{uuid.uuid4().hex[:6]}", topics=[topic])
    try:
        while time.monotonic() < deadline:
            for batch in consume_batches(consumer, idle_timeout=2):
                if any(json.loads(k) == key for k in (m.key() for m in batch) if k is not None):
                    return
    finally:
        consumer.close()
    raise AssertionError(f"no change of {key} on {topic} within {timeout}s")


def await_last_changes(bootstrap: str, shop: CapturedShop) -> None:
    """Touch the newest order, then wait until it and the newest customer reached Kafka."""
    last_order = shop.last_id("orders")
    shop.sql(f"UPDATE orders SET status = 'delivered' WHERE id = {last_order}")
    await_key(bootstrap, shop.source.topic("public.customers"), {"id": shop.last_id("customers")})
    await_key(bootstrap, shop.source.topic("public.orders"), {"id": last_order})


def run_pipeline(
    spark: SparkSession, bootstrap: str, shop: CapturedShop, lake_root: str
) -> dict[str, CdcTable]:
    """One pipeline run: the shop's topics into bronze, then each table's changes into silver."""
    bronze = bronze_table(PRODUCT, "changes")
    run_bronze_ingestion(
        spark,
        BronzeIngestion(
            bootstrap_servers=bootstrap,
            topics=tuple(shop.source.topic(t) for t in shop.source.tables),
            table=bronze,
            lake_root=lake_root,
            checkpoint=checkpoint_location(lake_root, PRODUCT, "bronze"),
        ),
    )
    tables = {
        name: CdcTable(
            topic=shop.source.topic(f"public.{name}"),
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
    return tables


def checksum(rows: Iterable[tuple[object, ...]]) -> str:
    return hashlib.sha256("\n".join(sorted(repr(r) for r in rows)).encode()).hexdigest()
