"""The table API shell publishes a read audit record per data request to ``platform.audit.v1``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.platform_topics import AUDIT_TOPIC, AuditRecord, api_key_id
from lakehouse_core.serving.api import create_table_api
from lakehouse_core.serving.audit import SpooledAudit
from lakehouse_core.serving.auth import API_KEY_HEADER, require_role
from lakehouse_core.serving.cache import QueryCache
from lakehouse_testing.plugin import KafkaFixture

pytestmark = pytest.mark.integration


def test_data_reads_are_published_to_the_audit_topic_when_an_audit_broker_is_set(
    kafka_broker: KafkaFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lake_root: str
) -> None:
    monkeypatch.setenv("LAKEHOUSE_AUDIT_BOOTSTRAP_SERVERS", kafka_broker.bootstrap_servers)
    monkeypatch.setenv("LAKEHOUSE_STATE_DIR", str(tmp_path / "state"))
    service = f"audit-{uuid.uuid4().hex[:8]}-api"
    app = create_table_api(
        service=service,
        version="1",
        description="Audited.",
        served=[],
        lake_root=lake_root,
        api_keys={"k-reader": ["user_reader"]},
        cache=QueryCache(),
    )

    @app.get("/v1/devices/{device_key}", dependencies=[Depends(require_role("user_reader"))])
    def device(device_key: str) -> str:
        return device_key

    client = TestClient(app)
    assert client.get("/v1/devices/d-1", headers={API_KEY_HEADER: "k-reader"}).status_code == 200
    assert client.get("/v1/devices/d-2").status_code == 401
    assert client.get("/health").status_code == 200
    audit = app.state.read_audit
    assert isinstance(audit, SpooledAudit)
    assert audit.flush(timeout=60)
    assert audit.close() == 0

    consumer = build_consumer(kafka_broker.bootstrap_servers, group_id=f"g-{service}", topics=[AUDIT_TOPIC])
    try:
        received = [
            AuditRecord.model_validate_json(m.value() or b"")
            for batch in consume_batches(consumer, idle_timeout=3)
            for m in batch
        ]
    finally:
        consumer.close()
    mine = [r for r in received if r.service == service]
    assert [(r.subject_key, r.outcome, r.api_key_id) for r in mine] == [
        ("d-1", "succeeded", api_key_id("k-reader")),
        ("d-2", "denied", None),
    ]
    assert (tmp_path / "state" / "spool" / AUDIT_TOPIC).is_dir(), "not spooled under the state folder"
