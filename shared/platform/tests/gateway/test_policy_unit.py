"""The gateway's policy on an app with no product mounted (in process): what a caller gets when
the key store cannot be read."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import Catalog
from lakehouse_platform.gateway.admin import KeyAdmin
from lakehouse_platform.gateway.app import create_gateway
from lakehouse_platform.gateway.config import load_gateway_config
from lakehouse_platform.gateway.keys import KeyStore

pytestmark = pytest.mark.unit


def test_an_unreadable_key_store_is_a_503_naming_it_not_a_500(tmp_path: Path) -> None:
    settings = LakehouseSettings(lake_root=str(tmp_path / "lake"), state_dir=tmp_path / "state")
    config = load_gateway_config()
    store = KeyStore(config.store_path(settings))
    issued = store.create(owner="o", roles=["analyst"], valid_for=timedelta(days=1))
    app = create_gateway(
        [],
        settings=settings,
        catalog=Catalog({}),
        store=store,
        admin=KeyAdmin(store, config, lambda _: None),
        config=config,
    )
    client = TestClient(app)
    headers = {API_KEY_HEADER: issued.secret}
    assert client.get("/catalog/tables", headers=headers).json() == []
    store.path.write_text("{not json", encoding="utf-8")
    answer = client.get("/catalog/tables", headers=headers)
    assert answer.status_code == 503
    assert str(store.path) in answer.json()["detail"]
    assert answer.headers["Retry-After"] == "60"
    assert client.get("/ready").status_code == 503
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_outside_dev_products_without_keys_of_their_own_are_mounted_under_the_gateways_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    """Alone, a product's API refuses to start in staging or prod without its own keys; mounted
    in the gateway it is guarded by the gateway's store and starts."""
    from lakehouse_core.config import ENVIRONMENT_VARIABLE
    from lakehouse_core.errors import ConfigError
    from lakehouse_platform.catalog import ServedProduct, build_catalog, discover_products

    monkeypatch.setenv(ENVIRONMENT_VARIABLE, environment)
    monkeypatch.setenv("LAKEHOUSE_SUBJECT_KEY", "a-subject-key-of-this-environment")
    for variable in [v for v in os.environ if v.endswith("_API_KEYS")]:
        monkeypatch.delenv(variable)
    settings = LakehouseSettings(lake_root=str(tmp_path / "lake"), state_dir=tmp_path / "state")
    products = [p for p in discover_products() if isinstance(p, ServedProduct)]
    with pytest.raises(ConfigError, match="no API keys"):
        products[0].serving_app(settings)
    config = load_gateway_config()
    store = KeyStore(config.store_path(settings))
    store.create(owner="o", roles=["analyst"], valid_for=timedelta(days=1))

    app = create_gateway(
        products,
        settings=settings,
        catalog=build_catalog(products, lake_root=settings.lake_root),
        store=store,
        admin=KeyAdmin(store, config, lambda _: None),
        config=config,
    )

    assert {getattr(route, "path", None) for route in app.routes} >= {f"/{p.name}" for p in products}
