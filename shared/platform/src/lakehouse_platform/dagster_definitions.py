"""The platform's Dagster definitions: every installed product's assets, checks, jobs and
schedules, from the ``lakehouse.products`` entry points (the platform imports no product).

``dagster-webserver -m lakehouse_platform.dagster_definitions`` (what ``lakehouse ui`` and
``make ui`` start) loads :data:`defs`. A product the platform can run
(:class:`~lakehouse_platform.catalog.RunnableProduct`) hands it its pipeline, quality rules and
jobs of its own (:class:`~lakehouse_platform.catalog.ProductAssets`), built with the lake, Kafka
and Spark of :class:`~lakehouse_core.settings.LakehouseSettings`; the jobs use the in-process
executor, so the steps of a run share its Spark session rather than each starting a JVM. Any
other product's tables are listed as external assets.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import ProductDeclaration, RunnableProduct, build_catalog, discover_products
from lakehouse_platform.dagster_assets import (
    ProductDefinitions,
    declared_tables,
    product_definitions,
    topic_asset_specs,
)


def build_definitions(
    products: Sequence[ProductDeclaration] | None = None, *, settings: LakehouseSettings | None = None
) -> dg.Definitions:
    """One :class:`dagster.Definitions` for ``products`` (default: every installed product)."""
    settings = settings or LakehouseSettings()
    declared = list(discover_products() if products is None else products)
    catalog = build_catalog(declared, lake_root=settings.lake_root)
    parts: list[ProductDefinitions] = []
    own_jobs: list[dg.JobDefinition] = []
    for product in declared:
        if not isinstance(product, RunnableProduct):
            parts.append(declared_tables(product, catalog=catalog))
            continue
        assets = product.product_assets(settings, catalog)
        own_jobs.extend(assets.jobs)
        parts.append(
            product_definitions(
                product.name,
                assets,
                catalog=catalog,
                config=product.load_config(),
                lake_root=settings.lake_root,
                settings=settings,
            )
        )
    return dg.Definitions(
        assets=[*topic_asset_specs(catalog), *(a for part in parts for a in part.assets)],
        jobs=[*(j for part in parts for j in part.jobs), *own_jobs],
        schedules=[s for part in parts for s in part.schedules],
        sensors=[s for part in parts for s in part.sensors],
        executor=dg.in_process_executor,
    )


defs = build_definitions()
