"""An event product's part of the platform's Dagster definitions: what
:meth:`EventProduct.product_assets <lakehouse_events.product.EventProduct.product_assets>` hands
the platform.

- the pipeline ``<product> pipeline`` runs (topics → bronze → silver → gold), whose tasks the
  platform makes assets;
- the silver suite's rules (Segment parsing's and the duplicate rule) as checks on silver events;
- a job partitioned by day that runs ``<product> backfill`` for its partition's day.
"""

# Dagster reads the annotation of an op's ``context`` at definition time, so annotations here
# are evaluated (no ``from __future__ import annotations``).
import json
from datetime import date
from functools import partial

import dagster as dg

from lakehouse_core.ingestion.deduplication import DUPLICATE_RULE
from lakehouse_core.settings import LakehouseSettings
from lakehouse_events.backfill import backfill_pipeline
from lakehouse_events.product import (
    ConfigT,
    EventProduct,
    EventProductConfig,
    SparkProvider,
    event_pipeline,
    spark_session,
)
from lakehouse_events.segment_parsing import rule_descriptions
from lakehouse_platform.backfill import TASK as BACKFILL_TASK
from lakehouse_platform.backfill import DayRange
from lakehouse_platform.catalog import Catalog, ProductAssets, QuarantineRules
from lakehouse_platform.dagster_assets import group_name, reporting, run_task

#: The first day of the gold backfill jobs' daily partitions (imported history reaches years back).
BACKFILL_START = "2016-01-01"
DUPLICATE_DESCRIPTION = "the event's messageId is already stored in silver (a re-sent or replayed event)"


def quality_rules(config: EventProductConfig) -> dict[str, str]:
    """The rules of an event product's silver suite (rule → what it refuses), in order; a
    quarantine row's ``failed_rules`` names them."""
    return {**rule_descriptions(config.event_time), DUPLICATE_RULE: DUPLICATE_DESCRIPTION}


def event_product_assets(
    product: EventProduct[ConfigT], settings: LakehouseSettings, catalog: Catalog
) -> ProductAssets:
    """The product's pipeline, its silver checks and its gold backfill job; a run starts one
    Spark session per product, in the run's process."""
    config = product.load_config()
    spark = partial(spark_session, product.name)
    pipeline = event_pipeline(
        product,
        config,
        spark=spark,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        lake_root=settings.lake_root,
    )
    backfill = gold_backfill_job(
        product, config, spark=spark, catalog=catalog, lake_root=settings.lake_root, settings=settings
    )
    checks = QuarantineRules(product.events, product.quarantine, quality_rules(config))
    return ProductAssets(pipeline, quality=(checks,), jobs=(backfill,))


def backfill_job_name(product: str) -> str:
    return f"{group_name(product)}_gold_backfill"


def gold_backfill_job(
    product: EventProduct[ConfigT],
    config: ConfigT,
    *,
    spark: SparkProvider,
    catalog: Catalog,
    lake_root: str,
    settings: LakehouseSettings | None = None,
) -> dg.JobDefinition:
    """A job partitioned by day whose op runs ``<product> backfill`` for its partition's day, so
    a backfill over a range of days is launched from the UI (one run per day). It leaves the
    product's assets unpartitioned: their job keeps running incrementally."""
    partitions = dg.DailyPartitionsDefinition(start_date=BACKFILL_START, timezone="UTC", end_offset=1)

    @dg.op(
        name=f"{group_name(product.name)}__gold_backfill",
        description=f"Recompute {product.name}'s gold of the partition's day from silver.",
        tags={"product": product.name, "task": BACKFILL_TASK},
    )
    def _backfill(context: dg.OpExecutionContext) -> None:
        day = date.fromisoformat(context.partition_key)
        pipeline = backfill_pipeline(
            product, config, spark=spark, lake_root=lake_root, days=DayRange(day, day)
        )
        task = pipeline.tasks[BACKFILL_TASK]
        with reporting(settings, catalog) as recorders:
            outputs = run_task(
                task, pipeline=product.name, context=context, upstream_outputs={}, recorders=recorders
            )
        context.log.info(f"backfilled {day}: {json.dumps(outputs, default=str)}")

    @dg.job(
        name=backfill_job_name(product.name),
        partitions_def=partitions,
        executor_def=dg.in_process_executor,
        description=f"Recompute {product.name}'s gold for a day from silver (`{product.name} backfill`).",
        tags={"product": product.name},
    )
    def _job() -> None:
        _backfill()

    return _job
