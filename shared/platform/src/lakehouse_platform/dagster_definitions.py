"""The platform's Dagster definitions: every installed product's assets, checks, jobs and
schedules, from the ``lakehouse.products`` entry points (the platform imports no product).

``dagster-webserver -m lakehouse_platform.dagster_definitions`` (what ``lakehouse ui`` and
``make ui`` start) loads :data:`defs`. The assets of an event product run the tasks of
:func:`~lakehouse_events.product.event_pipeline`, built with the lake, Kafka and Spark
of :class:`~lakehouse_core.settings.LakehouseSettings`; a run starts one Spark session per
product, in the run's process (the jobs use the in-process executor, so the steps of a run share
it rather than each starting a JVM).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, partial
from typing import TYPE_CHECKING

import dagster as dg

from lakehouse_core.settings import LakehouseSettings
from lakehouse_events.product import EventProduct, event_pipeline
from lakehouse_platform.catalog import ProductDeclaration, build_catalog, discover_products
from lakehouse_platform.dagster_assets import (
    ProductDefinitions,
    declared_tables,
    event_product_definitions,
    gold_backfill_job,
    topic_asset_specs,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@cache
def _spark(product: str) -> SparkSession:
    from lakehouse_core.spark import build_spark_session

    return build_spark_session(product, settings=LakehouseSettings())


def build_definitions(
    products: Sequence[ProductDeclaration] | None = None, *, settings: LakehouseSettings | None = None
) -> dg.Definitions:
    """One :class:`dagster.Definitions` for ``products`` (default: every installed product)."""
    settings = settings or LakehouseSettings()
    declared = list(discover_products() if products is None else products)
    catalog = build_catalog(declared, lake_root=settings.lake_root)
    parts: list[ProductDefinitions] = []
    backfills: list[dg.JobDefinition] = []
    for product in declared:
        if not isinstance(product, EventProduct):
            parts.append(declared_tables(product, catalog=catalog))
            continue
        config = product.load_config()
        pipeline = event_pipeline(
            product,
            config,
            spark=partial(_spark, product.name),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            lake_root=settings.lake_root,
        )
        backfills.append(
            gold_backfill_job(
                product,
                config,
                spark=partial(_spark, product.name),
                catalog=catalog,
                lake_root=settings.lake_root,
                settings=settings,
            )
        )
        parts.append(
            event_product_definitions(
                product,
                pipeline,
                catalog=catalog,
                config=config,
                lake_root=settings.lake_root,
                settings=settings,
            )
        )
    return dg.Definitions(
        assets=[*topic_asset_specs(catalog), *(a for part in parts for a in part.assets)],
        jobs=[*(j for part in parts for j in part.jobs), *backfills],
        schedules=[s for part in parts for s in part.schedules],
        executor=dg.in_process_executor,
    )


defs = build_definitions()
