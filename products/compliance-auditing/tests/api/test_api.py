"""The REST API on real Delta tables written with delta-rs, through the ASGI app in process."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from compliance_auditing.config import ComplianceConfig
from compliance_auditing.contracts import AccessesDaily, KeyReadsDaily, RetentionRun
from compliance_auditing.serving.app import create_app
from compliance_auditing.storage.requests import load_clear_ids
from compliance_auditing.storage.tables import (
    GOLD_ACCESSES_DAILY,
    GOLD_KEY_READS_DAILY,
    GOLD_RETENTION_RUNS,
    SILVER_ERASURE_REQUESTS,
)
from lakehouse_core.privacy import subject_key_of
from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_testing.serving import get_ok, write_rows

pytestmark = pytest.mark.integration

PLATFORM_KEY = b"api-test-subject-key"
NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
OFFICER = {API_KEY_HEADER: "officer-key"}
AUDITOR = {API_KEY_HEADER: "auditor-key"}
ANALYST = {API_KEY_HEADER: "analyst-key"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def client_for(lake_root: str, clock: Clock) -> TestClient:
    config = ComplianceConfig(
        name="compliance-auditing",
        owner="o",
        team="t",
        api_keys={"officer-key": ["privacy_officer"], "auditor-key": ["auditor"], "analyst-key": ["analyst"]},
    )
    write_rows(
        lake_root,
        GOLD_ACCESSES_DAILY,
        AccessesDaily,
        (date(2026, 3, 2), "GET /v1/x", "analyst", "k1", "read", 3, 1, 2),
    )
    return TestClient(create_app(config, lake_root=lake_root, clock=clock, subject_key=PLATFORM_KEY))


def test_an_erasure_request_is_stored_by_subject_key_and_its_status_turns_late(lake_root: str) -> None:
    from deltalake import DeltaTable

    clock = Clock()
    client = client_for(lake_root, clock)

    created = client.post(
        "/v1/erasure-requests", json={"user_id": " u-1 ", "anonymous_ids": ["a-1"]}, headers=OFFICER
    )

    assert created.status_code == 202, created.text
    body = created.json()
    request_id = body["request_id"]
    assert (body["state"], body["late"], body["subject_key"]) == (
        "pending",
        False,
        subject_key_of("u-1", PLATFORM_KEY),
    )
    stored = DeltaTable(SILVER_ERASURE_REQUESTS.location(lake_root)).to_pyarrow_table().to_pylist()
    assert "u-1" not in str(stored)
    assert "a-1" not in str(stored)
    clear = load_clear_ids(lake_root, request_id)
    assert clear is not None
    assert clear.all == ("u-1", "a-1")
    status = get_ok(client, f"/v1/erasure-requests/{request_id}", AUDITOR)
    assert (status["state"], status["late"]) == ("pending", False)
    metrics = client.get("/metrics").text
    assert 'lakehouse_erasure_requests{state="pending"} 1.0' in metrics
    assert "lakehouse_erasure_requests_late 0.0" in metrics
    clock.now = NOW + timedelta(hours=72, seconds=1)
    assert get_ok(client, f"/v1/erasure-requests/{request_id}", OFFICER)["late"] is True
    assert "lakehouse_erasure_requests_late 1.0" in client.get("/metrics").text
    missing = client.get(f"/v1/erasure-requests/{request_id}/certificate", headers=AUDITOR)
    assert missing.status_code == 404
    assert "pending: no certificate issued yet" in missing.json()["detail"]


def test_bad_bodies_unknown_ids_and_roles_are_refused(lake_root: str) -> None:
    client = client_for(lake_root, Clock())

    no_user = client.post("/v1/erasure-requests", json={"anonymous_ids": ["a"]}, headers=OFFICER)
    blank = client.post("/v1/erasure-requests", json={"user_id": "   "}, headers=OFFICER)
    extra = client.post("/v1/erasure-requests", json={"user_id": "u", "email": "x@y"}, headers=OFFICER)
    unknown = client.get("/v1/erasure-requests/nope", headers=AUDITOR)
    unknown_certificate = client.get("/v1/erasure-requests/nope/certificate", headers=AUDITOR)
    by_auditor = client.post("/v1/erasure-requests", json={"user_id": "u"}, headers=AUDITOR)
    by_analyst = client.get("/v1/erasure-requests/nope", headers=ANALYST)
    no_key = client.post("/v1/erasure-requests", json={"user_id": "u"})

    assert no_user.status_code == 422
    assert "user_id" in no_user.text
    assert blank.status_code == 422
    assert "user_id" in blank.text
    assert extra.status_code == 422
    assert "email" in extra.text
    assert unknown.status_code == 404
    assert "no erasure request 'nope'" in unknown.text
    assert unknown_certificate.status_code == 404
    assert by_auditor.status_code == 403
    assert by_analyst.status_code == 403
    assert no_key.status_code == 401


def test_accesses_per_day_for_auditors(lake_root: str) -> None:
    client = client_for(lake_root, Clock())

    page = get_ok(client, "/v1/accesses", AUDITOR, start="2026-03-02", end="2026-03-02")

    assert [(r["resource"], r["role"], r["accesses"], r["denied"]) for r in page["items"]] == [
        ("GET /v1/x", "analyst", 3, 1)
    ]
    assert (
        client.get(
            "/v1/accesses", headers=ANALYST, params={"start": "2026-03-02", "end": "2026-03-02"}
        ).status_code
        == 403
    )


def test_retention_runs_for_auditors_newest_first_and_by_table(lake_root: str) -> None:
    client = client_for(lake_root, Clock())
    day = date(2026, 3, 2)
    absent = client.get(
        "/v1/retention-runs", headers=AUDITOR, params={"start": "2026-03-01", "end": "2026-03-02"}
    )
    write_rows(
        lake_root,
        GOLD_RETENTION_RUNS,
        RetentionRun,
        (
            "r1",
            NOW - timedelta(days=1),
            day - timedelta(days=1),
            "web.silver.events",
            "event_date",
            395,
            date(2025, 2, 1),
            "expired",
            12,
            7,
        ),
        ("r2", NOW, day, "web.silver.events", "event_date", 395, date(2025, 2, 2), "expired", 3, 9),
        (
            "r2",
            NOW,
            day,
            "web.gold.sessions",
            "session_date",
            395,
            date(2025, 2, 2),
            "nothing_expired",
            0,
            None,
        ),
    )

    page = get_ok(client, "/v1/retention-runs", OFFICER, start="2026-03-01", end="2026-03-02")
    only_events = get_ok(
        client,
        "/v1/retention-runs",
        AUDITOR,
        start="2026-03-02",
        end="2026-03-02",
        table_name="web.silver.events",
    )

    assert absent.status_code == 503
    assert [(r["run_id"], r["table_name"], r["rows_deleted"], r["table_version"]) for r in page["items"]] == [
        ("r2", "web.gold.sessions", 0, None),
        ("r2", "web.silver.events", 3, 9),
        ("r1", "web.silver.events", 12, 7),
    ]
    assert [(r["run_id"], r["cutoff"]) for r in only_events["items"]] == [("r2", "2025-02-02")]
    refused = client.get(
        "/v1/retention-runs", headers=ANALYST, params={"start": "2026-03-02", "end": "2026-03-02"}
    )
    assert refused.status_code == 403


def test_unusual_access_lists_the_flagged_key_days_unless_asked_for_all(lake_root: str) -> None:
    client = client_for(lake_root, Clock())
    day = date(2026, 3, 2)
    write_rows(
        lake_root,
        GOLD_KEY_READS_DAILY,
        KeyReadsDaily,
        (day, "k-steady", 3, 5, 3.0, 20, 20.0, False),
        (day, "k-scraper", 900, 950, 4.0, 20, 20.0, True),
        (day - timedelta(days=1), "k-scraper", 4, 4, 4.0, 20, 20.0, False),
    )

    flagged = get_ok(client, "/v1/unusual-access", AUDITOR, start="2026-03-01", end="2026-03-02")
    everything = get_ok(
        client, "/v1/unusual-access", OFFICER, start="2026-03-01", end="2026-03-02", include_usual="true"
    )
    one_key = get_ok(
        client,
        "/v1/unusual-access",
        AUDITOR,
        start="2026-03-01",
        end="2026-03-02",
        include_usual="true",
        api_key_id="k-scraper",
    )

    assert [(r["api_key_id"], r["subjects"], r["baseline_subjects"]) for r in flagged["items"]] == [
        ("k-scraper", 900, 4.0)
    ]
    assert [(r["day"], r["api_key_id"]) for r in everything["items"]] == [
        ("2026-03-02", "k-scraper"),
        ("2026-03-02", "k-steady"),
        ("2026-03-01", "k-scraper"),
    ]
    assert [r["day"] for r in one_key["items"]] == ["2026-03-02", "2026-03-01"]
    bad = client.get(
        "/v1/unusual-access", headers=AUDITOR, params={"start": "2026-03-02", "end": "2026-03-01"}
    )
    assert bad.status_code == 400, bad.text
    assert client.get("/v1/unusual-access", headers=ANALYST).status_code == 403


def audit_record(record_id: str, minute: int, **fields: object) -> dict[str, object]:
    return {
        "record_id": record_id,
        "occurred_at": NOW + timedelta(minutes=minute),
        "service": "web-user-analytics",
        "api_key_id": "k1",
        "roles": ["analyst"],
        "action": "read",
        "resource_type": "endpoint",
        "resource": "GET /v1/users/{subject_key}",
        "resource_version": None,
        "subject_key": "a" * 64,
        "outcome": "succeeded",
        "status_code": 200,
        "correlation_id": None,
        "detail": None,
        **fields,
    }


def write_chain(lake_root: str, links: list[dict[str, object]]) -> None:
    from compliance_auditing.contracts import AuditEntry, ChainRoot
    from compliance_auditing.storage.tables import SILVER_AUDIT_TRAIL, SILVER_CHAIN_ROOTS

    day = NOW.date()
    rows = [
        tuple(
            {**link, "day": day, "source_partition": 0, "source_offset": i}[f]
            for f in AuditEntry.model_fields
        )
        for i, link in enumerate(links)
    ]
    write_rows(lake_root, SILVER_AUDIT_TRAIL, AuditEntry, *rows)
    write_rows(lake_root, SILVER_CHAIN_ROOTS, ChainRoot, (day, len(links), links[-1]["record_hash"], NOW))


def test_audit_search_by_key_subject_and_action_and_the_chain_verified(lake_root: str) -> None:
    from compliance_auditing.processing.chain import ChainEnd, extend_chain

    client = client_for(lake_root, Clock())
    links = extend_chain(
        [
            audit_record("r1", 0),
            audit_record("r2", 1, api_key_id="k2", subject_key="b" * 64),
            audit_record("w1", 2, action="write", resource="web.silver.events", subject_key=None),
        ],
        ChainEnd(),
    )
    write_chain(lake_root, links)
    day = {"start": "2026-03-02", "end": "2026-03-02"}

    everything = get_ok(client, "/v1/audit", AUDITOR, **day)
    by_key = get_ok(client, "/v1/audit", AUDITOR, api_key_id="k2", **day)
    by_subject = get_ok(client, "/v1/audit", OFFICER, subject_key="a" * 64, action="read", **day)
    chain = get_ok(client, "/v1/audit/chain/2026-03-02", AUDITOR)

    assert [r["record_id"] for r in everything["items"]] == ["w1", "r2", "r1"]
    assert [r["record_id"] for r in by_key["items"]] == ["r2"]
    assert [r["record_id"] for r in by_subject["items"]] == ["r1"]
    assert (chain["intact"], chain["links"], chain["root_hash"]) == (True, 3, links[-1]["record_hash"])
    bad = client.get("/v1/audit", headers=AUDITOR, params={**day, "subject_key": "not-a-key"})
    assert bad.status_code == 422
    assert client.get("/v1/audit", headers=ANALYST, params=day).status_code == 403


def test_a_tampered_link_is_named_by_the_chain_route(lake_root: str) -> None:
    from compliance_auditing.processing.chain import ChainEnd, extend_chain

    client = client_for(lake_root, Clock())
    links = extend_chain([audit_record("r1", 0), audit_record("r2", 1)], ChainEnd())
    links[0] = {**links[0], "resource": "GET /v1/somewhere-else"}
    write_chain(lake_root, links)

    chain = get_ok(client, "/v1/audit/chain/2026-03-02", AUDITOR)

    assert chain["intact"] is False
    assert "r1" in chain["broken"]


def test_the_backups_of_the_lake_are_listed(
    lake_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance_auditing.pipeline import COMPLIANCE_AUDITING
    from lakehouse_platform.backup.create import create_backup
    from lakehouse_platform.catalog import build_catalog

    monkeypatch.setenv("LAKEHOUSE_BACKUP_ROOT", str(tmp_path / "backups"))
    client = client_for(lake_root, Clock())
    assert get_ok(client, "/v1/backups", AUDITOR) == []
    catalog = build_catalog([COMPLIANCE_AUDITING], lake_root=lake_root)
    made = create_backup(catalog, backup_root=tmp_path / "backups", lake_root=lake_root)

    listed = get_ok(client, "/v1/backups", OFFICER)

    assert [(b["backup_id"], b["tables"]) for b in listed] == [(made.backup_id, 1)]
    assert listed[0]["bytes_total"] > 0
