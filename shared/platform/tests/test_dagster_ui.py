"""``lakehouse ui``: the Dagster UI over every installed product, with its instance in the state folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from lakehouse_platform.cli import app
from lakehouse_platform.dagster_ui import ensure_instance
from lakehouse_testing.plugin import free_port

QUERY = """
{
  assetNodes {
    assetKey { path }
    assetChecksOrError { ... on AssetChecks { checks { name } } }
  }
}
"""


@pytest.mark.unit
def test_the_instance_gets_sqlite_storage_once_and_keeps_edits(tmp_path: Path) -> None:
    config = ensure_instance(tmp_path / "dagster")
    assert "sqlite:" in config.read_text(encoding="utf-8")
    assert str((tmp_path / "dagster" / "storage").resolve()) in config.read_text(encoding="utf-8")
    config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    ensure_instance(tmp_path / "dagster")
    assert config.read_text(encoding="utf-8") == "telemetry:\n  enabled: false\n"


@pytest.mark.unit
def test_ui_refuses_a_port_in_use_and_names_the_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["ui", "--port", str(port)])
    assert result.exit_code == 1
    assert "LAKEHOUSE_UI_PORT" in result.output


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[str]:
    """``lakehouse ui`` as a child process on a free port, state (and DAGSTER_HOME) in ``tmp_path``."""
    port = free_port()
    env = {
        **os.environ,
        "LAKEHOUSE_STATE_DIR": str(tmp_path / "state"),
        "LAKEHOUSE_LAKE_ROOT": str(tmp_path / "lake"),
        "LAKEHOUSE_UI_PORT": str(port),
    }
    env.pop("DAGSTER_HOME", None)
    log = (tmp_path / "ui.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("lakehouse")), "ui", "--no-daemon"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    assert (tmp_path / "state" / "dagster" / "dagster.yaml").is_file()


def _asset_nodes(base: str, *, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=10)
            nodes = response.json().get("data", {}).get("assetNodes") if response.status_code == 200 else None
            if nodes:
                return list(nodes)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the Dagster UI at {base} did not list assets within {timeout}s")
        time.sleep(0.5)


@pytest.mark.integration
def test_the_ui_lists_both_products_assets_and_their_checks(ui: str) -> None:
    nodes = _asset_nodes(ui, timeout=90)
    paths = {"/".join(n["assetKey"]["path"]) for n in nodes}
    for product in ("web-user-analytics", "mobile-user-analytics"):
        assert {f"{product}/bronze/events", f"{product}/silver/events", f"{product}/silver/sessions"} <= paths
    assert {"web-user-analytics/gold/daily_traffic", "kafka/web.events.v1"} <= paths
    checks = {
        "/".join(n["assetKey"]["path"]): {c["name"] for c in n["assetChecksOrError"].get("checks", [])}
        for n in nodes
    }
    for product in ("web-user-analytics", "mobile-user-analytics"):
        assert {"has_message_id", "unique_message_id"} <= checks[f"{product}/silver/events"]
    assert checks["web-user-analytics/gold/daily_traffic"] == set()
    assert httpx.get(f"{ui}/server_info", timeout=10).status_code == 200
