"""`lakehouse catalog` and `lakehouse sql` as a user runs them (no broker needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

LAKEHOUSE = str(Path(sys.executable).parent / "lakehouse")


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LAKEHOUSE_LAKE_ROOT": str(tmp_path / "lake"), "COLUMNS": "200"}
    return subprocess.run(
        [LAKEHOUSE, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_catalog_list_show_and_lineage(tmp_path: Path) -> None:
    listed = run(tmp_path, "catalog", "list", "--product", "web-user-analytics", "--layer", "gold", "--json")
    assert listed.returncode == 0, listed.stderr
    names = [t["name"] for t in json.loads(listed.stdout)]
    assert "web-user-analytics.gold.daily_traffic" in names
    assert all(n.startswith("web-user-analytics.gold.") for n in names)

    shown = run(tmp_path, "catalog", "show", "mobile-user-analytics.silver.events", "--json")
    assert shown.returncode == 0, shown.stderr
    entry = json.loads(shown.stdout)
    assert entry["subject_columns"]["subject_key"] == "subject_key"
    assert entry["subject_columns"]["user_key"] == "pseudonymous_id"  # keyed with mobile's own key
    assert entry["owner"].startswith("mobile-analytics@example.com")
    assert entry["location"] == str(tmp_path / "lake" / "silver" / "mobile-user-analytics" / "events")
    assert entry["schema_history"][-1] == {"version": "1.1", "columns": len(entry["columns"])}
    assert "columns" in run(tmp_path, "catalog", "show", "web-user-analytics.gold.page_stats").stdout

    lineage = run(tmp_path, "catalog", "lineage", "web-user-analytics.gold.daily_traffic", "--upstream")
    assert lineage.returncode == 0, lineage.stderr
    chain = [line.strip("│└├─ ") for line in lineage.stdout.splitlines()[1:]]
    assert chain == [
        "web-user-analytics.silver.sessions",
        "web-user-analytics.silver.events",
        "web-user-analytics.bronze.events",
        "kafka:web.events.v1",
    ]
    missing = run(tmp_path, "catalog", "show", "web-user-analytics.gold.nothing")
    assert missing.returncode == 1
    assert "no table 'web-user-analytics.gold.nothing'" in missing.stderr


def test_sql_on_an_empty_lake_skips_every_table_with_a_note(tmp_path: Path) -> None:
    result = run(tmp_path, "sql", "select 1 as one", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"one": 1}
    assert "skipped web-user-analytics.gold.daily_traffic: not built yet" in result.stderr
