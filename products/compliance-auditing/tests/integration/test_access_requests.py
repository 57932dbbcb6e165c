"""An access request through the API and the access task, on a small lake written through Spark
and Delta: the export holds exactly the person's current rows of every table with subject
columns (found by subject key, by the ids their identity links tie to them, and in free text),
with every column described; nobody else's rows; and an erasure of the person deletes it."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from pyspark.sql import SparkSession

from compliance_auditing.config import ComplianceConfig
from compliance_auditing.pipeline import COMPLIANCE_AUDITING
from compliance_auditing.processing.access import execute_access_requests
from compliance_auditing.serving.app import create_app
from compliance_auditing.storage.exports import drop_exports, export_dir
from compliance_auditing.storage.requests import ACCESS, load_clear_ids
from lakehouse_core.delta import append, ensure_table
from lakehouse_core.identity import identity_links_table
from lakehouse_core.privacy import subject_key_of
from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_core.tables import Layer, SubjectKind, declare_table
from lakehouse_platform.catalog import build_catalog
from lakehouse_testing.declarations import ToyDeclaration
from lakehouse_testing.serving import get_ok

pytestmark = pytest.mark.integration

PLATFORM_KEY = b"access-test-subject-key"
DAY = date(2026, 3, 2)
AT = datetime(2026, 3, 2, 12, tzinfo=UTC)
OFFICER = {API_KEY_HEADER: "officer-key"}
AUDITOR = {API_KEY_HEADER: "auditor-key"}


def key(name: str) -> str:
    found = subject_key_of(f"user-{name}", PLATFORM_KEY)
    assert found is not None
    return found


class Visit(BaseModel):
    """Silver: one visit."""

    event_id: str
    event_date: date
    subject_key: str | None = Field(description="The person, once identified.")
    visitor_id: str = Field(description="The browser's keyed id.")
    note: str = Field(description="Free text the visitor typed.")


class DailyVisits(BaseModel):
    """Gold: visits per day, nobody's data."""

    day: date
    visits: int


VISITS = declare_table(
    "shop",
    "events",
    Layer.SILVER,
    Visit,
    "event_date",
    upstream=(),
    subject_columns={
        "subject_key": SubjectKind.SUBJECT_KEY,
        "visitor_id": SubjectKind.PSEUDONYMOUS_ID,
        "note": SubjectKind.FREE_TEXT,
    },
)
LINKS = identity_links_table("shop")
DAILY = declare_table("shop", "daily_visits", Layer.GOLD, DailyVisits, "day", upstream=())


def write_lake(spark: SparkSession, lake_root: str) -> None:
    for spec in (VISITS, LINKS, DAILY):
        ensure_table(spark, spec, lake_root=lake_root)
    visits = [
        ("a-1", DAY, key("alice"), "vis-alice", "hello"),
        ("a-2", DAY, None, "vis-alice", "before sign-in"),
        ("b-1", DAY, key("bob"), "vis-bob", "hi"),
        ("b-2", DAY, None, "vis-bob", "mentions user-alice by name"),
    ]
    append(spark.createDataFrame(visits, VISITS.schema), VISITS, lake_root=lake_root)
    links = [
        (key(n), f"vis-{n}", "pseudonymous_id", "identify", f"{n[0]}-1", AT, DAY, VISITS.qualified_name)
        for n in ("alice", "bob")
    ]
    append(spark.createDataFrame(links, LINKS.schema), LINKS, lake_root=lake_root)
    append(spark.createDataFrame([(DAY, 4)], DAILY.schema), DAILY, lake_root=lake_root)


def test_an_access_request_exports_exactly_the_persons_rows_with_described_columns(
    spark: SparkSession, lake_root: str
) -> None:
    write_lake(spark, lake_root)
    catalog = build_catalog(
        [ToyDeclaration("shop", (VISITS, LINKS, DAILY)), COMPLIANCE_AUDITING], lake_root=lake_root
    )
    config = ComplianceConfig(
        name="compliance-auditing",
        owner="o",
        team="t",
        api_keys={"officer-key": ["privacy_officer"], "auditor-key": ["auditor"]},
    )
    client = TestClient(create_app(config, lake_root=lake_root, clock=lambda: AT, subject_key=PLATFORM_KEY))

    created = client.post("/v1/access-requests", json={"user_id": "user-alice"}, headers=OFFICER)
    assert created.status_code == 202, created.text
    request_id = created.json()["request_id"]
    assert get_ok(client, f"/v1/access-requests/{request_id}", AUDITOR)["manifest"] is None
    early = client.get(f"/v1/access-requests/{request_id}/tables/{VISITS.qualified_name}", headers=OFFICER)
    assert early.status_code == 404

    run = execute_access_requests(spark, catalog, lake_root=lake_root, now=lambda: AT)

    assert (run.executed, run.completed, run.failed) == (1, 1, 0)
    status = get_ok(client, f"/v1/access-requests/{request_id}", AUDITOR)
    assert (status["state"], status["late"]) == ("completed", False)
    manifest = status["manifest"]
    by_table = {t["table"]: t for t in manifest["tables"]}
    assert DAILY.qualified_name not in by_table
    assert by_table[VISITS.qualified_name]["rows"] == 3
    assert by_table[LINKS.qualified_name]["rows"] == 1
    assert manifest["linked_ids"] == 1
    columns = {c["name"]: c for c in by_table[VISITS.qualified_name]["columns"]}
    assert columns["visitor_id"] == {
        "name": "visitor_id",
        "type": "string",
        "description": "The browser's keyed id.",
        "identifies": "pseudonymous_id",
    }
    exported = client.get(f"/v1/access-requests/{request_id}/tables/{VISITS.qualified_name}", headers=OFFICER)
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in exported.text.splitlines()]
    assert sorted(r["event_id"] for r in rows) == ["a-1", "a-2", "b-2"]
    assert {r["event_id"]: r["subject_key"] for r in rows}["a-2"] is None
    assert "vis-bob" not in [r["visitor_id"] for r in rows if r["event_id"] != "b-2"]
    denied = client.get(f"/v1/access-requests/{request_id}/tables/{VISITS.qualified_name}", headers=AUDITOR)
    assert denied.status_code == 403
    unsearched = client.get(
        f"/v1/access-requests/{request_id}/tables/{DAILY.qualified_name}", headers=OFFICER
    )
    assert unsearched.status_code == 404
    folder = export_dir(lake_root, request_id)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in folder.iterdir())
    assert load_clear_ids(lake_root, request_id, ACCESS) is None

    assert drop_exports(lake_root, key("bob")) == 0
    assert drop_exports(lake_root, key("alice")) == 1
    assert not folder.exists()
