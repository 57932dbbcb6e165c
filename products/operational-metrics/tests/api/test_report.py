"""``operational-metrics report`` on a small gold lake written with delta-rs: one chart per
section with the expected series, and nothing loaded from outside the page."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lakehouse_testing.serving import write_rows
from operational_metrics.cli import app
from operational_metrics.contracts import (
    Anomaly,
    AssetCost,
    Incident,
    RunStats,
    SlaCompliance,
    TableFreshness,
)
from operational_metrics.storage import tables as specs

pytestmark = pytest.mark.integration

DAY = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)


def check(name: str, at: datetime, age_minutes: int, state: str) -> tuple[Any, ...]:
    product, layer, _ = name.split(".")
    data_at = at - timedelta(minutes=age_minutes)
    return (
        at,
        at.date(),
        name,
        product,
        layer,
        3,
        data_at,
        data_at,
        "commit",
        age_minutes * 60.0,
        60,
        120,
        state,
    )


def build_gold(lake_root: str) -> None:
    write_rows(
        lake_root,
        specs.GOLD_FRESHNESS,
        TableFreshness,
        check("web.gold.daily", NOON, 30, "ok"),
        check("web.gold.daily", NOON + timedelta(hours=1), 150, "breach"),
        check("web.silver.events", NOON + timedelta(hours=1), 90, "warn"),
    )
    write_rows(
        lake_root,
        specs.GOLD_RUN_STATS,
        RunStats,
        (DAY, "web", "silver", 2, 1, 1, 3, 2, 1, 0, 12.0, 19.2, 20.0, 100, 90, 10, 0.1),
        (DAY, "web", "gold", 1, 1, 0, 1, 0, 0, 0, 40.0, 40.0, 40.0, 50, 5, 0, 0.0),
    )
    write_rows(
        lake_root,
        specs.GOLD_INCIDENTS,
        Incident,
        (
            "asset_failing:web/silver:x", "asset_failing", "web", "silver", None, NOON, NOON, DAY,
            NOON + timedelta(hours=2), "closed", 0.0, 7200.0, 1, "r2", "builtins.OSError: disk full",
        ),
        (
            "sla_breach:web/web.gold.daily:y", "sla_breach", "web", None, "web.gold.daily",
            NOON + timedelta(minutes=30), NOON + timedelta(hours=1), DAY, None, "open", 1800.0, None, 1,
            None, None,
        ),
    )  # fmt: skip
    write_rows(
        lake_root,
        specs.GOLD_SLA_COMPLIANCE,
        SlaCompliance,
        (
            date(2026, 3, 1),
            "day",
            DAY,
            "web.gold.daily",
            "web",
            "gold",
            60,
            120,
            2,
            1,
            0,
            1,
            0,
            0.5,
            0.0,
            0.5,
            0.5,
        ),
    )


def build_cost_and_anomalies(lake_root: str) -> None:
    write_rows(
        lake_root,
        specs.GOLD_COST,
        AssetCost,
        (DAY, "web", "silver", 3, 36.0, 2**30, 0.01, 0, 90, 0.0005, 0.00005, 0.0, 0.00055, 0.0061),
        (DAY, "app", "gold", 1, 3.6, 2**29, 0.001, 2**30, 5, 0.00005, 0.000005, 0.023, 0.023055, 4.611),
    )
    write_rows(
        lake_root,
        specs.GOLD_ANOMALIES,
        Anomaly,
        (
            DAY, "web", "silver", "r2", "r2-silver", NOON, "rows_written", 90.0, 1000.0, 825.0, 1175.0,
            -18.2, "drop", 4,
        ),
    )  # fmt: skip


def series_by_chart(page: str) -> dict[str, list[str]]:
    """The trace names of every chart, by the chart's div id."""
    charts = {}
    for div_id, traces in re.findall(r'Plotly\.newPlot\(\s*"(chart-[a-z]+)",\s*(\[.*?\]),\s*\{', page, re.S):
        charts[div_id] = [t.get("name") for t in json.loads(traces)]
    return charts


def test_the_report_has_a_chart_per_section_with_its_series_and_loads_nothing_from_outside(
    lake_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_gold(lake_root)
    build_cost_and_anomalies(lake_root)
    monkeypatch.setenv("LAKEHOUSE_LAKE_ROOT", lake_root)
    out = tmp_path / "report.html"

    result = CliRunner().invoke(app, ["report", "--day", "2026-03-02", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "2 tables, 2 assets, 2 incidents, 1 anomalies" in result.output
    page = out.read_text()
    assert series_by_chart(page) == {
        "chart-freshness": ["age", "warn level", "breach level"],
        "chart-durations": ["p50", "p95", "max", "failed runs"],
        "chart-incidents": ["asset_failing", "sla_breach"],
        "chart-cost": ["cpu", "memory", "storage"],
        "chart-anomalies": ["rows_written"],
    }
    assert "drop: 90, expected 825 to 1175 (z -18.2)" in page
    assert "<td>web.gold.daily</td><td>2</td><td>50%</td>" in page
    assert re.findall(r"<script[^>]*\bsrc=", page) == []
    assert re.findall(r"<link[^>]*\bhref=", page) == []
    assert page.count("<script") == 6


def test_a_day_without_gold_says_so_per_section(
    lake_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_LAKE_ROOT", lake_root)
    out = tmp_path / "empty.html"

    result = CliRunner().invoke(app, ["report", "--day", "2026-03-02", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert out.read_text().count("No data for this day.") == 6
    assert CliRunner().invoke(app, ["report", "--day", "March 2nd"]).exit_code == 2
