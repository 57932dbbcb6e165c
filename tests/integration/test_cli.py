"""The `lakehouse` command as a user runs it: stack up/status/down, topics and the smoke pipeline."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lakehouse_testing.plugin import free_port, reachable_state_dir

pytestmark = pytest.mark.e2e

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAKEHOUSE, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_stack_and_smoke_pipeline_through_the_cli(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LAKEHOUSE_STATE_DIR": str(reachable_state_dir("lakehouse-cli-") / "state"),
        "LAKEHOUSE_LAKE_ROOT": str(tmp_path / "lake"),
        "LAKEHOUSE_KAFKA_PORT": str(free_port()),
        "LAKEHOUSE_KAFKA_CONTROLLER_PORT": str(free_port()),
        "LAKEHOUSE_POSTGRES_PORT": str(free_port()),
        "LAKEHOUSE_CONNECT_PORT": str(free_port()),
        "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    assert run(env, "stack", "status").returncode == 3
    try:
        up = run(env, "stack", "up")
        assert up.returncode == 0, up.stderr
        assert "Kafka broker started." in up.stdout
        assert "PostgreSQL started." in up.stdout
        assert "Kafka Connect started." in up.stdout
        again = run(env, "stack", "up")
        assert "already running" in again.stdout

        status = json.loads(run(env, "stack", "status", "--json").stdout)
        assert status["running"]
        assert status["bootstrap_servers"] == f"127.0.0.1:{env['LAKEHOUSE_KAFKA_PORT']}"
        assert status["postgres"]["running"]
        assert status["postgres"]["dsn"].endswith(f":{env['LAKEHOUSE_POSTGRES_PORT']}/operational")
        assert status["connect"]["running"]
        assert status["connect"]["url"] == f"http://127.0.0.1:{env['LAKEHOUSE_CONNECT_PORT']}"

        created = run(
            env, "topics", "create", "cli.check.v1", "--partitions", "2", "--retention-ms", "3600000"
        )
        assert created.returncode == 0, created.stderr
        assert "created cli.check.v1" in created.stdout
        assert "exists already" in run(env, "topics", "create", "cli.check.v1").stdout
        assert "cli.check.v1" in run(env, "topics", "list").stdout.split()
        described = json.loads(run(env, "topics", "describe", "cli.check.v1", "--json").stdout)
        assert [p["partition"] for p in described["partitions"]] == [0, 1]
        assert described["records"] == 0
        assert described["config"]["retention.ms"] == "3600000"
        missing = run(env, "topics", "describe", "no.such.topic")
        assert missing.returncode == 1
        assert "does not exist" in missing.stderr

        smoke = run(env, "smoke", "--events", "300")
        assert smoke.returncode == 0, smoke.stderr[-3000:]
        report = json.loads(smoke.stdout)
        assert (report["produced"], report["written"], report["read_back"]) == (300, 300, 300)
        assert report["identical"] is True
        assert report["table_location"].startswith(str(tmp_path / "lake"))
    finally:
        down = run(env, "stack", "down")
    assert "Kafka broker stopped." in down.stdout
    assert "PostgreSQL stopped." in down.stdout
    assert "Kafka Connect stopped." in down.stdout
    assert run(env, "stack", "status").returncode == 3
