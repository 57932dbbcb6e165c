"""The read audit of the serving shell: which requests are audited, and what a record says."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import Depends, HTTPException, Path
from fastapi.testclient import TestClient

from lakehouse_core.platform_topics import AuditRecord, api_key_id
from lakehouse_core.service import CORRELATION_HEADER, create_service_app
from lakehouse_core.serving.audit import install_read_audit
from lakehouse_core.serving.auth import API_KEY_HEADER, install_api_keys, require_role
from lakehouse_core.settings import LakehouseSettings

pytestmark = pytest.mark.unit

KEYS = {"k-analyst": ["analyst"], "k-reader": ["user_reader", "analyst"]}


def audited_app(records: list[AuditRecord], settings: LakehouseSettings | None = None) -> TestClient:
    app = create_service_app(service="demo-api", version="1")
    install_api_keys(app, KEYS)
    install_read_audit(app, service="demo-api", publish=records.append, settings=settings)

    @app.get("/v1/totals", dependencies=[Depends(require_role("analyst"))])
    def totals() -> int:
        return 3

    @app.get("/v1/users/{visitor_id}/sessions", dependencies=[Depends(require_role("user_reader"))])
    def sessions(visitor_id: Annotated[str, Path(min_length=2)]) -> list[str]:
        if visitor_id == "v-unknown":
            raise HTTPException(404, "unknown visitor")
        return [visitor_id]

    @app.get("/v1/broken")
    def broken() -> int:
        raise RuntimeError("bug")

    return TestClient(app, raise_server_exceptions=False)


def test_each_data_read_gives_one_record_with_key_fingerprint_roles_subject_and_outcome() -> None:
    records: list[AuditRecord] = []
    client = audited_app(records)

    ok = client.get("/v1/users/v-1/sessions", headers={API_KEY_HEADER: "k-reader"})
    client.get("/v1/users/v-1/sessions", headers={API_KEY_HEADER: "k-analyst"})
    client.get("/v1/totals")
    client.get("/v1/users/v-unknown/sessions", headers={API_KEY_HEADER: "k-reader"})
    client.get("/v1/broken")

    assert [(r.resource, r.status_code, r.outcome) for r in records] == [
        ("GET /v1/users/{visitor_id}/sessions", 200, "succeeded"),
        ("GET /v1/users/{visitor_id}/sessions", 403, "denied"),
        ("GET /v1/totals", 401, "denied"),
        ("GET /v1/users/{visitor_id}/sessions", 404, "invalid"),
        ("GET /v1/broken", 500, "failed"),
    ]
    read, denied, anonymous = records[:3]
    assert (read.action, read.resource_type, read.service) == ("read", "endpoint", "demo-api")
    assert read.api_key_id == api_key_id("k-reader")
    assert "k-reader" not in read.model_dump_json()
    assert read.roles == ["analyst", "user_reader"]
    assert read.subject_key == "v-1"
    assert read.correlation_id == ok.headers[CORRELATION_HEADER]
    assert (denied.api_key_id, denied.roles) == (api_key_id("k-analyst"), ["analyst"])
    assert (anonymous.api_key_id, anonymous.roles, anonymous.subject_key) == (None, [], None)
    assert len({r.record_id for r in records}) == len(records)


def test_operations_routes_documentation_and_unknown_paths_are_not_audited() -> None:
    records: list[AuditRecord] = []
    client = audited_app(records)

    for path in ("/health", "/ready", "/metrics", "/docs", "/openapi.json", "/nowhere"):
        assert client.get(path).status_code in (200, 404), path

    assert records == []


def test_an_unknown_key_is_fingerprinted_without_roles_and_the_secret_keys_the_fingerprint() -> None:
    records: list[AuditRecord] = []
    settings = LakehouseSettings(api_key_fingerprint_secret="s3cret")
    audited_app(records, settings).get("/v1/totals", headers={API_KEY_HEADER: "k-guess"})

    [record] = records
    assert record.api_key_id == api_key_id("k-guess", secret=b"s3cret")
    assert record.api_key_id != api_key_id("k-guess")
    assert (record.roles, record.outcome) == ([], "denied")


def test_without_a_publisher_or_an_audit_broker_nothing_is_installed() -> None:
    app = create_service_app(service="demo-api", version="1")
    middleware = len(app.user_middleware)
    install_read_audit(app, service="demo-api", settings=LakehouseSettings(audit_bootstrap_servers=""))
    assert len(app.user_middleware) == middleware
