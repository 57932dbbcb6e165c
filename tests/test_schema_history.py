"""Each product's committed schema record (``config/schemas.json``) matches its live contracts.

A contract change fails here until it is recorded (``lakehouse catalog record-schemas``); a
breaking one (a dropped column, a narrowed or changed type, nullable → required) until the
table's declared ``schema_version`` is bumped as well.
"""

from __future__ import annotations

import pytest

from lakehouse_events.product import EventProduct
from lakehouse_platform.catalog import discover_products
from lakehouse_platform.schema_history import problems, read_record

pytestmark = pytest.mark.unit

PRODUCTS = sorted((p for p in discover_products() if isinstance(p, EventProduct)), key=lambda p: p.name)


@pytest.mark.parametrize("product", PRODUCTS, ids=lambda p: p.name)
def test_the_schema_record_matches_the_live_contracts(product: EventProduct) -> None:
    assert product.schema_record is not None, f"{product.name} declares no schema record"
    found = problems(product.tables, read_record(product.schema_record))
    assert not found, "\n".join(found)
