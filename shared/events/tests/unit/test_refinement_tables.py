"""An event product's refinement runs on the tables its declaration names, and on no others."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lakehouse_core.identity import identity_links_table
from lakehouse_core.tables import TableSpec
from lakehouse_events.product import EventProduct
from lakehouse_events.refinement import DerivedTable, Refinement, RefinementError, RefinementSteps
from lakehouse_platform.catalog import discover_products

pytestmark = pytest.mark.unit

EVENT_PRODUCTS = [p for p in discover_products() if isinstance(p, EventProduct)]


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for product in EVENT_PRODUCTS:
        prefix = str(product.load_config().model_config.get("env_prefix") or "")
        monkeypatch.setenv(f"{prefix}PSEUDONYMISATION_KEY", "test-pseudonymisation-key")


def _redeclared(product: EventProduct) -> EventProduct:
    """The product with each declared table replaced by an equal but distinct object, so a
    refinement that names a table itself (instead of taking the declaration's) is told apart."""
    links = replace(product.identity_links) if product.identity_links is not None else None
    return replace(
        product,
        bronze=replace(product.bronze),
        quarantine=replace(product.quarantine),
        events=replace(product.events),
        sessions=replace(product.sessions),
        identity_links=links,
    )


@pytest.mark.parametrize("product", EVENT_PRODUCTS, ids=lambda p: p.name)
def test_the_refinement_uses_the_declarations_own_tables(product: EventProduct) -> None:
    declared = _redeclared(product)

    refinement = declared.build_refinement(declared.load_config())

    assert refinement.product == declared.name
    assert refinement.bronze is declared.bronze
    assert refinement.quarantine is declared.quarantine
    assert refinement.events is declared.events
    assert refinement.sessions is declared.sessions
    assert refinement.identity_links is declared.identity_links
    assert refinement.identity_links is not None
    assert all(spec in declared.tables for spec in refinement.tables)


def test_both_event_products_have_their_refinement_checked() -> None:
    assert {p.name for p in EVENT_PRODUCTS} >= {"web-user-analytics", "mobile-user-analytics"}


def _mobile() -> EventProduct:
    (mobile,) = [p for p in EVENT_PRODUCTS if p.name == "mobile-user-analytics"]
    return mobile


def test_a_derived_table_the_declaration_does_not_list_is_refused() -> None:
    mobile = _mobile()
    undeclared = replace(mobile, gold_tables=tuple(s for s in mobile.gold_tables if s.name != "screen_views"))

    with pytest.raises(RefinementError, match=r"mobile-user-analytics\.silver\.screen_views"):
        undeclared.build_refinement(undeclared.load_config())


def test_the_declared_derived_tables_are_accepted() -> None:
    mobile = _mobile()

    refinement = mobile.build_refinement(mobile.load_config())

    assert [d.spec.name for d in refinement.steps.derived] == ["screen_views"]
    assert all(isinstance(d, DerivedTable) for d in refinement.steps.derived)


def test_identity_links_need_both_a_table_and_link_rules() -> None:
    mobile = _mobile()
    steps = mobile.refinement(mobile.load_config())

    def refinement(links: TableSpec | None, steps: RefinementSteps) -> Refinement:
        return Refinement(
            product=mobile.name,
            bronze=mobile.bronze,
            quarantine=mobile.quarantine,
            events=mobile.events,
            sessions=mobile.sessions,
            identity_links=links,
            steps=steps,
        )

    with pytest.raises(RefinementError, match="declares no identity_links table"):
        refinement(None, steps)
    with pytest.raises(RefinementError, match="has no link rules"):
        refinement(identity_links_table(mobile.name), replace(steps, link_rules=()))
