"""The gateway's policy on an app with no product mounted (in process): what a caller gets when
the key store cannot be read."""

from __future__ import annotations

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
