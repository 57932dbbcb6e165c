"""An event product's declaration is typed by its configuration: no field is ``Any``, and each
installed product's configuration has what the kit reads of it."""

from __future__ import annotations

import re
import typing
from dataclasses import fields

import pytest

from lakehouse_events.product import EventProduct, EventProductConfig
from lakehouse_platform.catalog import discover_products

pytestmark = pytest.mark.unit


def test_no_field_of_the_declaration_is_any() -> None:
    annotations = {f.name: str(f.type) for f in fields(EventProduct)}
    assert "load_config" in annotations
    untyped = [name for name, annotation in annotations.items() if re.search(r"\bAny\b", annotation)]
    assert untyped == []


def test_each_installed_event_products_configuration_is_what_the_kit_reads() -> None:
    events = [p for p in discover_products() if isinstance(p, EventProduct)]
    assert {p.name for p in events} >= {"web-user-analytics", "mobile-user-analytics"}
    protocols = [c for c in EventProductConfig.__mro__ if c not in (typing.Protocol, typing.Generic, object)]
    readable = {
        name
        for protocol in protocols
        for name, member in [*vars(protocol).items(), *vars(protocol).get("__annotations__", {}).items()]
        if isinstance(member, property) or name == "model_config"
    }
    assert {"name", "topics", "collector", "event_time", "model_config"} <= readable
    for product in events:
        config = product.load_config()
        missing = sorted(name for name in readable if not hasattr(config, name))
        assert missing == [], f"{product.name}: {missing}"
