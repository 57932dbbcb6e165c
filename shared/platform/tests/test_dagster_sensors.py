"""The new-records sensor against a real broker: it asks for a run when the topics a product's
tables read from get records, once per set of offsets, and says why when it does not."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from pydantic import BaseModel

from lakehouse_core.config import SensorConfig, TopicConfig
from lakehouse_core.contracts import spark_schema
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import ConfiguredTopic, Layer, TableSpec
from lakehouse_platform.catalog import build_catalog
from lakehouse_platform.dagster_assets import job_name
from lakehouse_platform.dagster_definitions import build_definitions
from lakehouse_platform.dagster_sensors import new_records_sensor
from lakehouse_testing.declarations import ToyConfig, ToyDeclaration
from lakehouse_testing.plugin import KafkaFixture

pytestmark = pytest.mark.integration


class Row(BaseModel):
    """A row."""

    n: int


def bronze(product: str) -> TableSpec:
    return TableSpec(
        name="events",
        layer=Layer.BRONZE,
        product=product,
        schema=spark_schema(Row),
        contract=Row,
        upstream=(ConfiguredTopic("events"),),
    )


def declaration(topic: str) -> ToyDeclaration:
    def config() -> ToyConfig:
        return ToyConfig(topics={"events": TopicConfig(name=topic, partitions=2)})

    return ToyDeclaration("shop", (bronze("shop"),), load_config=config)


def test_a_run_is_requested_once_per_new_offsets_and_skipped_with_a_reason_otherwise(
    kafka_broker: KafkaFixture, unique_topic: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    ensure_topics(bootstrap, [TopicSpec(unique_topic, partitions=2)])
    catalog = build_catalog([declaration(unique_topic)], lake_root=str(tmp_path))
    assert catalog.kafka_topics(product="shop") == [unique_topic]
    job = dg.define_asset_job("shop_pipeline")
    sensor = new_records_sensor(
        "shop", "shop_new_records", job, [unique_topic], bootstrap_servers=bootstrap, config=SensorConfig()
    )

    empty = sensor.evaluate_tick(dg.build_sensor_context())
    assert empty.run_requests == []
    assert empty.skip_message == f"no new records on {unique_topic}"

    with EventProducer(bootstrap) as producer:
        producer.send_all(OutgoingMessage(unique_topic, b"{}", key=str(n).encode()) for n in range(5))
    fresh = sensor.evaluate_tick(dg.build_sensor_context(cursor=empty.cursor))
    [requested] = fresh.run_requests or []
    assert requested.tags["lakehouse/trigger"] == "new-records"

    again = sensor.evaluate_tick(dg.build_sensor_context(cursor=fresh.cursor))
    assert again.run_requests == []
    assert fresh.cursor is not None
    assert sum(json.loads(fresh.cursor).values()) == 5

    unreachable = new_records_sensor(
        "shop",
        "shop_new_records",
        job,
        [unique_topic],
        bootstrap_servers="127.0.0.1:1",
        config=SensorConfig(),
    )
    down = unreachable.evaluate_tick(dg.build_sensor_context(cursor=fresh.cursor))
    assert down.run_requests == []
    assert down.skip_message is not None
    assert down.skip_message.startswith(f"cannot read the offsets of {unique_topic}")


def test_each_product_reading_kafka_gets_a_stopped_sensor_on_its_job(tmp_path: Path) -> None:
    settings = LakehouseSettings(lake_root=str(tmp_path), kafka_bootstrap_servers="127.0.0.1:1")
    defs = build_definitions(settings=settings)
    sensors = {s.name: s for s in defs.sensors or []}
    for product in ("web-user-analytics", "mobile-user-analytics"):
        group = product.replace("-", "_")
        sensor = sensors[f"{group}_new_records"]
        assert sensor.job_name == job_name(product)
        assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
        assert sensor.minimum_interval_seconds == SensorConfig().minimum_interval_seconds
