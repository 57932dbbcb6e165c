"""Sensors: a product's job runs when the Kafka topics its tables read from have new records.

The topics come from the catalog's lineage (``kafka:<topic>`` upstream of the product's tables),
so a product declares nothing beyond its tables. The sensor's cursor holds the topics' high
watermarks as last seen; a run is requested when any of them moved, keyed by the new watermarks
so the same offsets never request two runs.
"""

from __future__ import annotations

import json

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from lakehouse_core.config import SensorConfig
from lakehouse_core.errors import KafkaError
from lakehouse_core.kafka.admin import partition_watermarks


def high_watermarks(bootstrap_servers: str, topics: list[str]) -> dict[str, int]:
    """Per topic, the sum of its partitions' high watermarks: it grows with every new record."""
    return {
        topic: sum(high for _, high in partition_watermarks(bootstrap_servers, topic).values())
        for topic in topics
    }


def new_records_sensor(
    product: str,
    sensor_name: str,
    job: UnresolvedAssetJobDefinition,
    topics: list[str],
    *,
    bootstrap_servers: str,
    config: SensorConfig,
) -> dg.SensorDefinition:
    """A sensor requesting a run of ``job`` whenever ``topics`` hold records not seen before."""

    def evaluate(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        try:
            now = high_watermarks(bootstrap_servers, topics)
        except KafkaError as exc:
            return dg.SkipReason(f"cannot read the offsets of {', '.join(topics)}: {exc}")
        seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        cursor = json.dumps(now, sort_keys=True)
        if not any(high > seen.get(topic, 0) for topic, high in now.items()):
            return dg.SensorResult(skip_reason=f"no new records on {', '.join(topics)}", cursor=cursor)
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=cursor,
                    tags={"lakehouse/trigger": "new-records", "lakehouse/product": product},
                )
            ],
            cursor=cursor,
        )

    return dg.SensorDefinition(
        name=sensor_name,
        job=job,
        evaluation_fn=evaluate,
        minimum_interval_seconds=config.minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Runs {product}'s assets when {', '.join(topics)} get new records.",
    )
