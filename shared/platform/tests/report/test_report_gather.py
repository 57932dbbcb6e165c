"""The numbers the platform report shows, gathered from a small lake of real Delta tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse_core.kafka.spool import spool_folder
from lakehouse_core.platform_topics import PIPELINE_RUNS, PipelineRunRecord
from lakehouse_platform.catalog import build_catalog
from lakehouse_platform.report.gather import PlatformState, TableState, gather

from .conftest import AUDIT_TRAIL, EVENTS, QUARANTINE, RUNS, WEB, ReportLake

pytestmark = pytest.mark.unit


def _gathered(lake: ReportLake, *, hours_later: float = 0) -> PlatformState:
    now = datetime.now(tz=UTC) + timedelta(hours=hours_later)
    return gather(lake.catalog, state_dir=lake.settings.state_dir, now=now)


def _tables(state: PlatformState) -> dict[str, TableState]:
    return {t.name: t for p in state.products for t in p.tables}


def test_freshness_status_against_each_tables_sla(report_lake: ReportLake) -> None:
    fresh = _tables(_gathered(report_lake))
    assert {t.state for t in fresh.values() if t.version is not None} == {"ok"}
    assert fresh[f"{WEB}.bronze.events"].state == "missing"
    assert fresh[f"{WEB}.bronze.events"].version is None

    # Five hours on: silver (warn 60, breach 240 minutes) is in breach, gold (120, 360) warns.
    later = _tables(_gathered(report_lake, hours_later=5))
    assert later[EVENTS].state == "breach"
    assert later[f"{WEB}.gold.daily_traffic"].state == "warn"
    assert later[f"{WEB}.bronze.events"].state == "missing"
    assert later[EVENTS].age_seconds == pytest.approx(5 * 3600, abs=60)


def test_rows_and_growth_per_version(report_lake: ReportLake) -> None:
    events = _tables(_gathered(report_lake))[EVENTS]
    assert [(v.version, v.rows) for v in events.versions] == [(0, 2), (1, 5)]
    assert events.rows == 5
    assert events.growth == 3
    assert [v.operation for v in events.versions] == ["WRITE", "WRITE"]

    newest = gather(report_lake.catalog, state_dir=report_lake.settings.state_dir, versions=1)
    [events] = [t for p in newest.products for t in p.tables if t.name == EVENTS]
    assert [(v.version, v.rows) for v in events.versions] == [(1, 5)]
    assert events.growth is None
    assert events.state == "ok"
    [traffic] = [t for p in newest.products for t in p.tables if t.name == f"{WEB}.gold.daily_traffic"]
    assert (traffic.rows, traffic.growth) == (2, 2)


def test_quality_pass_rate_of_quarantine_against_its_silver_table(report_lake: ReportLake) -> None:
    [web] = [p for p in _gathered(report_lake).products if p.name == WEB]
    [quality] = web.quality
    assert (quality.quarantine, quality.source) == (QUARANTINE, EVENTS)
    assert (quality.passed, quality.quarantined) == (5, 1)
    assert quality.pass_rate == pytest.approx(5 / 6)
    assert quality.by_rule == {"has_message_id": 1, "known_type": 1}


def test_last_runs_and_traffic_per_key_from_the_catalogued_tables(report_lake: ReportLake) -> None:
    state = _gathered(report_lake)
    assert state.runs is not None
    assert state.runs.source == RUNS
    assert [(r.asset, r.run_id, r.attempt, r.status, r.error) for r in state.runs.of(WEB)] == [
        ("gold", "r2", 0, "skipped", None),
        ("silver", "r2", 2, "failed", "boom"),
    ]
    assert state.traffic is not None
    assert state.traffic.source == AUDIT_TRAIL
    assert [(t.api_key_id, t.requests, t.succeeded, t.denied) for t in state.traffic.of(WEB)] == [
        ("key-a", 3, 2, 1),
        ("key-b", 1, 1, 0),
    ]
    assert [(t.api_key_id, t.denied) for t in state.traffic.of("gateway")] == [("key-c", 1)]


def test_runs_from_the_spool_and_no_audit_trail_without_those_products(
    report_lake: ReportLake, tmp_path: Path
) -> None:
    kept = [p for p in report_lake.products if p.name not in ("operational-metrics", "compliance-auditing")]
    catalog = build_catalog(kept, lake_root=report_lake.settings.lake_root)
    spool = spool_folder(tmp_path, PIPELINE_RUNS.name)
    spool.mkdir(parents=True)
    at = datetime(2026, 3, 2, 8, tzinfo=UTC)
    record = PipelineRunRecord(
        product=WEB,
        asset="bronze",
        run_id="spooled",
        attempt=1,
        final_attempt=True,
        status="succeeded",
        started_at=at,
        finished_at=at + timedelta(seconds=3),
        cpu_seconds=0.1,
        peak_memory_bytes=1,
    )
    (spool / "segment.jsonl").write_bytes(record.model_dump_json().encode() + b"\n{torn\n")

    state = gather(catalog, state_dir=tmp_path)
    assert state.traffic is None
    assert state.runs is not None
    assert str(spool) in state.runs.source
    assert [(r.asset, r.run_id, r.duration_seconds) for r in state.runs.last] == [("bronze", "spooled", 3.0)]

    assert gather(catalog, state_dir=tmp_path / "empty").runs is None
