"""The platform report's page: self-contained, and its charts render in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lakehouse_platform.catalog import build_catalog
from lakehouse_platform.report.command import write_report

from .conftest import WEB, ReportLake

#: Chromium without anything that reaches out (updates, sync, QUIC) or needs a display or GPU.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def rendered_dom(page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran (``--virtual-time-budget``), from Debian's chromium
    (``make setup`` installs it)."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is not installed: `make browser-tools` installs Debian's package")
    done = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def charts_of(dom: str) -> dict[str, str]:
    """Each chart's id (without ``chart-``) → the DOM from its div up to the next chart's."""
    parts = dom.split('id="chart-')[1:]
    return {part.split('"', 1)[0]: part for part in parts}


@pytest.mark.integration
def test_every_chart_renders_in_headless_chromium(report_lake: ReportLake, tmp_path: Path) -> None:
    page = tmp_path / "platform.html"
    state = write_report(report_lake.catalog, page, state_dir=report_lake.settings.state_dir)
    source = page.read_text(encoding="utf-8")
    assert "<script src" not in source
    assert "<link" not in source

    dom = rendered_dom(page, tmp_path / "profile")
    charts = charts_of(dom)
    expected = {f"{p.name}-freshness" for p in state.products} | {
        f"{WEB}-growth",
        f"{WEB}-quality",
        f"{WEB}-runs",
        f"{WEB}-traffic",
        "gateway-traffic",
    }
    assert expected <= set(charts)
    unrendered = sorted(name for name, part in charts.items() if 'class="main-svg"' not in part)
    assert not unrendered, f"charts without plotly's SVG: {unrendered}"
    assert all('class="trace' in charts[name] for name in expected)


@pytest.mark.unit
def test_page_says_when_there_is_no_audit_trail_or_run_record(
    report_lake: ReportLake, tmp_path: Path
) -> None:
    kept = [p for p in report_lake.products if p.name not in ("operational-metrics", "compliance-auditing")]
    catalog = build_catalog(kept, lake_root=report_lake.settings.lake_root)
    page = tmp_path / "platform.html"
    write_report(catalog, page, state_dir=tmp_path / "state")
    source = page.read_text(encoding="utf-8")
    assert "no audit trail yet" in source
    assert source.count("No audit trail yet.") == len(kept)
    assert source.count("No run records yet.") == len(kept)


@pytest.mark.unit
def test_command_writes_the_page_and_refuses_a_path_it_cannot_write(
    report_lake: ReportLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from lakehouse_platform.cli import app

    monkeypatch.setenv("LAKEHOUSE_LAKE_ROOT", report_lake.settings.lake_root)
    monkeypatch.setenv("LAKEHOUSE_STATE_DIR", str(report_lake.settings.state_dir))
    page = tmp_path / "out" / "platform.html"
    done = CliRunner().invoke(app, ["report", "--out", str(page)])
    assert done.exit_code == 0, done.output
    assert f"wrote {page}" in done.output
    assert "missing" in done.output
    assert 'id="chart-web-user-analytics-growth"' in page.read_text(encoding="utf-8")

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    refused = CliRunner().invoke(app, ["report", "--out", str(blocked / "platform.html")])
    assert refused.exit_code == 1
    assert "lakehouse report failed" in refused.output
