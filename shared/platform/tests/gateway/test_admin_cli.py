"""``lakehouse admin`` and ``lakehouse gateway`` on the command line: the key shown once, the
changes on the real ``platform.audit.v1``, and a gateway that refuses to start outside dev
without keys."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.platform_topics import AUDIT, AuditRecord
from lakehouse_platform.cli import app
from lakehouse_platform.gateway.keys import KEY_PREFIX, KeyStore
from lakehouse_testing.plugin import KafkaFixture

runner = CliRunner()


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "LAKEHOUSE_STATE_DIR": str(tmp_path / "state"),
        "LAKEHOUSE_LAKE_ROOT": str(tmp_path / "lake"),
        **extra,
    }


@pytest.mark.integration
def test_key_commands_print_the_key_once_and_audit_every_change(
    kafka_broker: KafkaFixture, tmp_path: Path
) -> None:
    env = _env(tmp_path, LAKEHOUSE_AUDIT_BOOTSTRAP_SERVERS=kafka_broker.bootstrap_servers)
    owner = f"cli-{uuid.uuid4().hex[:8]}"
    created = runner.invoke(app, ["admin", "keys", "create", "--owner", owner, "--role", "analyst"], env=env)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith(KEY_PREFIX)
    store = KeyStore(tmp_path / "state" / "gateway" / "api_keys.json")
    assert store.roles_of(secret) == frozenset({"analyst"})
    assert secret not in store.path.read_text()

    listed = runner.invoke(app, ["admin", "keys", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    (record,) = json.loads(listed.stdout)
    assert (record["owner"], record["state"], record["roles"]) == (owner, "active", ["analyst"])
    assert secret not in listed.stdout

    rotated = runner.invoke(app, ["admin", "keys", "rotate", record["key_id"]], env=env)
    assert rotated.exit_code == 0, rotated.output
    new_secret = rotated.stdout.strip().splitlines()[-1]
    assert store.roles_of(secret) is None
    assert store.roles_of(new_secret) == frozenset({"analyst"})
    new_id = next(r.key_id for r in store.records() if not r.revoked)
    assert runner.invoke(app, ["admin", "keys", "revoke", new_id], env=env).exit_code == 0
    assert store.roles_of(new_secret) is None
    unknown = runner.invoke(app, ["admin", "keys", "revoke", "abcdef"], env=env)
    assert unknown.exit_code == 1
    assert "no API key 'abcdef'" in unknown.output
    bad_role = runner.invoke(app, ["admin", "keys", "create", "--owner", owner, "--role", "root"], env=env)
    assert bad_role.exit_code == 1
    assert "unknown roles root" in bad_role.output

    consumer = build_consumer(kafka_broker.bootstrap_servers, group_id=f"g-{owner}", topics=[AUDIT.name])
    try:
        messages = [m for batch in consume_batches(consumer, idle_timeout=3) for m in batch]
    finally:
        consumer.close()
    records = [AuditRecord.model_validate_json(m.value() or b"") for m in messages]
    ours = {r.record_id: r for r in records if r.detail and f" of {owner} " in r.detail}
    assert sorted((r.resource, r.detail.split()[0]) for r in ours.values() if r.detail) == sorted(
        [
            (record["key_id"], "created"),
            (record["key_id"], "rotated"),
            (new_id, "created"),
            (new_id, "revoked"),
        ]
    )
    assert {(r.action, r.resource_type, r.service) for r in ours.values()} == {
        ("key_management", "api_key", "lakehouse-gateway")
    }


@pytest.mark.unit
@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_the_gateway_refuses_to_start_outside_dev_without_keys(tmp_path: Path, environment: str) -> None:
    result = runner.invoke(app, ["gateway"], env=_env(tmp_path, LAKEHOUSE_ENVIRONMENT=environment))
    assert result.exit_code == 1
    assert f"no API keys in {environment}" in result.output
    assert "lakehouse admin keys create" in result.output
