"""The gateway over every installed product, served by a real uvicorn on a lake of real Delta
tables: mounted routes behind the gateway's keys, the merged OpenAPI, quotas under a burst,
freshness headers, the admin routes and the column mask over every GET route."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from lakehouse_core.platform_topics import api_key_id
from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_platform.gateway.freshness import AGE_HEADER, SLA_HEADER, TABLE_HEADER, VERSION_HEADER
from lakehouse_platform.gateway.keys import KeyStore, Quota
from lakehouse_platform.gateway.mask import subject_fields
from lakehouse_testing.lake import DAY, SUBJECT_MARK

from .lake import Gateway

pytestmark = pytest.mark.integration

MEMBERS = "/user-segmentation/v1/segments/champions/members"


@pytest.fixture(scope="module")
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        yield http


def test_every_product_is_mounted_and_the_merged_openapi_lists_its_routes(
    gateway: Gateway, client: httpx.Client
) -> None:
    names = {p.name for p in gateway.products}
    assert names >= {"web-user-analytics", "mobile-user-analytics", "user-segmentation"}
    document = client.get("/openapi.json").json()
    for product in gateway.products:
        own = product.serving_app(gateway.settings).openapi()
        assert {f"/{product.name}{p}" for p in own["paths"]} <= set(document["paths"]), product.name
    refs = {m for m in json.dumps(document).split('"') if m.startswith("#/components/schemas/")}
    assert {r.removeprefix("#/components/schemas/") for r in refs} <= set(document["components"]["schemas"])
    assert "/catalog/tables" in document["paths"]
    assert "/admin/keys" in document["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text
    for path in ("/health", "/ready"):
        assert client.get(path).status_code == 200, path
    assert 'route="/ready"' in client.get("/metrics").text


def test_product_guards_read_the_gateway_keys_and_the_product_still_serves_alone(
    gateway: Gateway, client: httpx.Client
) -> None:
    analyst = gateway.key("analyst")
    assert client.get("/user-segmentation/v1/segments", headers=analyst).status_code == 200
    assert client.get("/user-segmentation/v1/segments").status_code == 401
    unknown = client.get("/user-segmentation/v1/segments", headers={API_KEY_HEADER: "lhk_nope"})
    assert (unknown.status_code, unknown.json()["detail"]) == (401, "API key unknown")
    auditor_only = client.get("/user-segmentation/v1/segments", headers=gateway.key("auditor"))
    assert auditor_only.status_code == 403
    assert "analyst" in auditor_only.json()["detail"]

    segmentation = next(p for p in gateway.products if p.name == "user-segmentation")
    alone = TestClient(segmentation.serving_app(gateway.settings))
    assert alone.get("/v1/segments").status_code == 200


def test_expired_and_revoked_keys_are_refused_at_once(gateway: Gateway, client: httpx.Client) -> None:
    short = gateway.store.create(owner="t", roles=["analyst"], valid_for=timedelta(milliseconds=1))
    time.sleep(0.01)
    expired = client.get("/catalog/tables", headers={API_KEY_HEADER: short.secret})
    assert (expired.status_code, expired.json()["detail"]) == (401, "API key expired")

    headers = gateway.key("analyst")
    assert client.get("/user-segmentation/v1/segments", headers=headers).status_code == 200
    record = gateway.store.lookup(headers[API_KEY_HEADER]).record
    assert record is not None
    KeyStore(gateway.store.path).revoke(record.key_id)
    revoked = client.get("/user-segmentation/v1/segments", headers=headers)
    assert (revoked.status_code, revoked.json()["detail"]) == (401, "API key revoked")
    denied = [r for r in gateway.refusals if r.api_key_id == api_key_id(headers[API_KEY_HEADER])]
    assert [(r.action, r.resource, r.outcome, r.status_code) for r in denied] == [
        ("read", "GET /user-segmentation/v1/segments", "denied", 401)
    ]


def test_a_burst_beyond_the_quota_gets_exactly_the_surplus_as_429(gateway: Gateway) -> None:
    limit, burst = 25, 60
    headers = gateway.key("analyst", quota=Quota(per_minute=10_000, per_day=limit))

    def call(_: int) -> httpx.Response:
        with httpx.Client(base_url=gateway.url, timeout=60) as http:
            return http.get("/user-segmentation/v1/segments", headers=headers)

    with ThreadPoolExecutor(max_workers=burst) as pool:
        answers = list(pool.map(call, range(burst)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == limit
    assert statuses.count(429) == burst - limit
    refused = [a for a in answers if a.status_code == 429]
    assert all(int(a.headers["Retry-After"]) >= 1 for a in refused)
    fingerprint = api_key_id(headers[API_KEY_HEADER])
    assert [r.status_code for r in gateway.refusals if r.api_key_id == fingerprint] == [429] * (burst - limit)


def test_an_answer_that_reads_a_table_says_its_version_age_and_sla(
    gateway: Gateway, client: httpx.Client
) -> None:
    answer = client.get("/user-segmentation/v1/segments", headers=gateway.key("analyst"))
    assert answer.status_code == 200
    tables = answer.headers[TABLE_HEADER].split(",")
    assert "user-segmentation.gold.segment_sizes" in tables
    versions = answer.headers[VERSION_HEADER].split(",")
    ages = answer.headers[AGE_HEADER].split(",")
    slas = answer.headers[SLA_HEADER].split(",")
    assert len(versions) == len(ages) == len(slas) == len(tables)
    at = tables.index("user-segmentation.gold.segment_sizes")
    assert versions[at] == "0"
    assert 0 <= int(ages[at]) < 600
    freshness = gateway.catalog.get("user-segmentation.gold.segment_sizes").spec.freshness
    assert slas[at] == (str(freshness.breach_minutes) if freshness else "none")
    assert TABLE_HEADER not in client.get("/health").headers


def test_admin_routes_make_list_rotate_and_revoke_keys_for_admins_only(
    gateway: Gateway, client: httpx.Client
) -> None:
    admin = gateway.key("admin")
    body = {"owner": "bo", "roles": ["analyst"], "valid_days": 3}
    assert client.post("/admin/keys", json=body, headers=gateway.key("analyst")).status_code == 403
    bad = client.post("/admin/keys", json={**body, "roles": ["root"]}, headers=admin)
    assert bad.status_code == 400
    assert "unknown roles root" in bad.json()["detail"]
    made = client.post("/admin/keys", json=body, headers=admin)
    assert made.status_code == 201, made.text
    secret, key_id = made.json()["key"], made.json()["record"]["key_id"]
    assert client.get("/user-segmentation/v1/segments", headers={API_KEY_HEADER: secret}).status_code == 200
    listed = client.get("/admin/keys", headers=admin)
    assert secret not in listed.text
    assert key_id in {k["key_id"] for k in listed.json()}

    rotation = client.post(f"/admin/keys/{key_id}/rotate", headers=admin)
    assert rotation.status_code == 200, rotation.text
    rotated = rotation.json()
    assert client.get("/catalog/tables", headers={API_KEY_HEADER: secret}).status_code == 401
    new = {API_KEY_HEADER: rotated["key"]}
    assert client.get("/catalog/tables", headers=new).status_code == 200
    assert client.post(f"/admin/keys/{rotated['record']['key_id']}/revoke", headers=admin).json()["revoked"]
    assert client.get("/catalog/tables", headers=new).status_code == 401
    assert client.post("/admin/keys/abc123/revoke", headers=admin).status_code == 404
    assert set(client.get("/admin/roles", headers=admin).json()) >= {"analyst", "user_reader", "admin"}

    fingerprint = api_key_id(admin[API_KEY_HEADER])
    changes = [r for r in gateway.audit if r.api_key_id == fingerprint]
    assert [(r.action, r.resource) for r in changes] == [
        ("key_management", key_id),
        ("key_management", key_id),
        ("key_management", rotated["record"]["key_id"]),
        ("key_management", rotated["record"]["key_id"]),
    ]


def test_catalog_routes_answer_what_the_catalog_holds(gateway: Gateway, client: httpx.Client) -> None:
    headers = gateway.key("analyst")
    tables = client.get("/catalog/tables", headers=headers).json()
    assert {t["name"] for t in tables} == set(gateway.catalog.entries)
    one = client.get("/catalog/tables/user-segmentation.gold.segment_sizes", headers=headers).json()
    assert one["owner"]
    assert one["columns"]
    assert "freshness" in one
    lineage = client.get("/catalog/tables/user-segmentation.gold.segment_sizes/lineage", headers=headers)
    assert lineage.json()["name"] == "user-segmentation.gold.segment_sizes"
    missing = client.get("/catalog/tables/nowhere.gold.x", headers=headers)
    assert missing.status_code == 404
    assert client.get("/catalog/tables").status_code == 401


def _arguments(operation: dict[str, Any]) -> dict[str, str]:
    known = {"segment": "champions", "name": "signup", "request_id": "r1", "run_id": "run_id-0"}
    values: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        name, schema = parameter["name"], parameter.get("schema", {})
        if parameter["in"] not in ("path", "query"):
            continue
        if name in known:
            values[name] = known[name]
        elif name in ("start", "end", "day", "date", "as_of") or schema.get("format") == "date":
            values[name] = DAY.isoformat()
        elif parameter["in"] == "path":
            values[name] = f"unknown-{name}"
        elif parameter.get("required"):
            values[name] = "1" if schema.get("type") == "integer" else "x"
    return values


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_no_get_route_gives_an_analyst_a_pseudonymous_id(gateway: Gateway, client: httpx.Client) -> None:
    fields = subject_fields(gateway.catalog)
    analyst = gateway.key("analyst", "operator", "auditor")
    document = client.get("/openapi.json").json()
    swept: dict[str, int] = {}
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None or path.startswith("/admin"):
            continue
        product_route = not path.startswith("/catalog")
        arguments = _arguments(operation)
        url = path.format(**{k: v for k, v in arguments.items() if "{" + k + "}" in path})
        query = {k: v for k, v in arguments.items() if "{" + k + "}" not in path}
        answer = client.get(url, params=query, headers=analyst)
        swept[path] = answer.status_code
        assert not any(s in answer.text for s in gateway.subjects), (path, answer.text[:300])
        if answer.headers.get("content-type", "").startswith("application/json") and product_route:
            assert not _keys(answer.json()) & fields, (path, answer.text[:300])
    assert swept["/user-segmentation/v1/segments/{segment}/members"] == 200
    assert sum(1 for status in swept.values() if status == 200) >= 20, swept

    reader = client.get(MEMBERS, headers=gateway.key("analyst", "user_reader")).json()
    assert reader["items"]
    assert all(m["person_id"].startswith(SUBJECT_MARK) for m in reader["items"])
    masked = client.get(MEMBERS, headers=analyst).json()
    assert masked["items"]
    assert all("person_id" not in m for m in masked["items"])
