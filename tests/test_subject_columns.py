"""Every table that holds a person's data says so in the catalog, with the platform-wide
``subject_key`` among its subject columns, so erasure and segmentation find the person in every
product's tables through the catalog alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse_core.tables import SubjectKind
from lakehouse_platform.catalog import CatalogEntry, build_catalog, discover_products
from lakehouse_platform.cli import app

pytestmark = pytest.mark.unit

PRODUCTS = ("web-user-analytics", "mobile-user-analytics")
#: Columns that identify a person or their device wherever they appear.
IDENTIFIER_COLUMNS = {
    "subject_key",
    "visitor_id",
    "device_key",
    "user_key",
    "anonymous_id",
    "previous_id",
    "linked_id",
    "key",
    "value",
    "raw_value",
}

RAW_AND_SILVER = (
    "bronze.events",
    "quarantine.events",
    "silver.events",
    "silver.sessions",
    "silver.identity_links",
)


def entries() -> list[CatalogEntry]:
    catalog = build_catalog(discover_products(), lake_root="/lake")
    return [e for e in catalog.select() if e.product in PRODUCTS]


def holds_a_persons_data(entry: CatalogEntry) -> bool:
    """A table whose subject columns are only device ids holds a device's data: it reaches the
    person through the product's identity links (a sign-in), not through a column of its own."""
    return any(kind is not SubjectKind.DEVICE_ID for kind in entry.spec.subject_columns.values())


def test_every_table_with_a_persons_data_declares_the_subject_key() -> None:
    missing = [
        e.qualified_name
        for e in entries()
        if holds_a_persons_data(e)
        and e.spec.subject_columns.get("subject_key") is not SubjectKind.SUBJECT_KEY
    ]

    assert missing == []


def test_every_declared_subject_column_is_a_column_and_every_identifier_column_is_declared() -> None:
    for entry in entries():
        columns = {c.name for c in entry.columns}
        assert set(entry.spec.subject_columns) <= columns, entry.qualified_name
        undeclared = (columns & IDENTIFIER_COLUMNS) - set(entry.spec.subject_columns)
        assert not undeclared, f"{entry.qualified_name}: {sorted(undeclared)} identify a person"


def test_the_layers_holding_raw_or_per_person_rows_all_carry_the_subject_key() -> None:
    with_key = {e.qualified_name for e in entries() if "subject_key" in e.spec.subject_columns}

    for product in PRODUCTS:
        for table in RAW_AND_SILVER:
            assert f"{product}.{table}" in with_key
    assert {"web-user-analytics.gold.visitor_days", "web-user-analytics.gold.user_dimension"} <= with_key
    aggregates = [e for e in entries() if not e.spec.subject_columns]
    assert aggregates, "the daily aggregates hold no person's data"
    assert not [e.qualified_name for e in aggregates if "subject_key" in {c.name for c in e.columns}]


def test_catalog_show_prints_the_subject_columns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAKEHOUSE_LAKE_ROOT", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "250")

    shown = CliRunner().invoke(app, ["catalog", "show", "web-user-analytics.silver.identity_links"])
    listed = CliRunner().invoke(app, ["catalog", "list"])

    assert shown.exit_code == 0, shown.output
    assert "subject_key (subject_key)" in shown.output
    assert "linked_id (pseudonymous_id)" in shown.output
    assert listed.exit_code == 0, listed.output
    assert "identity_links" in listed.output
