"""Each installed event product's task graph names the tables its tasks write, every table once."""

from __future__ import annotations

from collections import Counter

import pytest

from lakehouse_events.product import EventProduct, event_pipeline
from lakehouse_platform.catalog import discover_products

pytestmark = pytest.mark.unit

EVENT_PRODUCTS = [p for p in discover_products() if isinstance(p, EventProduct)]


def _no_spark() -> None:
    raise AssertionError("building the task graph must not start Spark")


@pytest.mark.parametrize("product", EVENT_PRODUCTS, ids=lambda p: p.name)
def test_every_table_of_the_product_is_written_by_exactly_one_task(product: EventProduct) -> None:
    pipeline = event_pipeline(
        product, product.load_config(), spark=_no_spark, bootstrap_servers="127.0.0.1:1", lake_root="/lake"
    )
    written = Counter(spec.qualified_name for task in pipeline.tasks.values() for spec in task.writes)
    assert set(written) == {spec.qualified_name for spec in product.tables}
    assert set(written.values()) == {1}
    assert [spec.layer.value for spec in pipeline.tasks["bronze"].writes] == ["bronze"]


def test_both_event_products_are_installed() -> None:
    assert {p.name for p in EVENT_PRODUCTS} >= {"web-user-analytics", "mobile-user-analytics"}
