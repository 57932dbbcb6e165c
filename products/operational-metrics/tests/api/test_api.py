"""The REST API on real Delta tables written with delta-rs, through the ASGI app in process."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_testing.plugin import free_port, serve_in_thread
from lakehouse_testing.promql import metric_names
from lakehouse_testing.serving import get_ok, write_rows
from operational_metrics.config import OpsConfig
from operational_metrics.contracts import (
    Anomaly,
    AssetCost,
    Incident,
    RunAttempt,
    RunStats,
    SlaCompliance,
    TableFreshness,
)
from operational_metrics.serving.app import create_app
from operational_metrics.serving.metrics import OpsCollector
from operational_metrics.storage import tables as specs

pytestmark = pytest.mark.integration

DAY = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)
CHECKED = NOON + timedelta(minutes=5)
DAY_RANGE = {"start": "2026-03-02", "end": "2026-03-02"}
ALERT_RULES = (
    Path(__file__).resolve().parents[4] / "infrastructure/monitoring/alerts/operational-metrics.rules.yml"
)


def ops_config(api_keys: dict[str, list[str]] | None = None) -> OpsConfig:
    return OpsConfig(name="operational-metrics", owner="o", team="t", api_keys=api_keys or {})


def attempt(record_id: str, run_id: str, asset: str, status: str, minute: int) -> tuple[Any, ...]:
    began = NOON + timedelta(minutes=minute)
    final = record_id != "r1"
    return (
        record_id, "web", asset, run_id, None, None, 1, final, status, began, began + timedelta(seconds=5),
        began.date(), 5.0, 10, 9, 1, {"web.bronze.events": 10}, {"web.silver.events": 9},
        {"web.silver.events": 3}, {"rule": 1}, 0.5, 1000, None, None, 0, minute,
    )  # fmt: skip


def freshness_row(
    name: str, data_at: datetime | None, warn: int, breach: int, state: str, checked: datetime = CHECKED
) -> tuple[Any, ...]:
    age = (checked - data_at).total_seconds() if data_at else None
    product, layer, _ = name.split(".")
    return (
        checked, checked.date(), name, product, layer, 0 if data_at else None, data_at, data_at,
        "commit" if data_at else "none", age, warn, breach, state,
    )  # fmt: skip


def incident(
    kind: str, subject: str, opened: datetime, closed: datetime | None, product: str = "web"
) -> tuple[Any, ...]:
    asset, table = (subject, None) if kind == "asset_failing" else (None, subject)
    started = opened - timedelta(minutes=2)
    recover = (closed - opened).total_seconds() if closed else None
    return (
        f"{kind}:{product}/{subject}:{opened.isoformat()}", kind, product, asset, table, started, opened,
        opened.date(), closed, "closed" if closed else "open", 120.0, recover, 1, None, None,
    )  # fmt: skip


def compliance(period: str, start: date, table: str, ok: int, warn: int, breach: int) -> tuple[Any, ...]:
    checks = ok + warn + breach
    product, layer, _ = table.split(".")
    return (
        start.replace(day=1), period, start, table, product, layer, 60, 120, checks, ok, warn, breach, 0,
        ok / checks, warn / checks, breach / checks, (ok + warn) / checks,
    )  # fmt: skip


def cost_row(day: date, product: str, asset: str, cpu: float, rows: int) -> tuple[Any, ...]:
    cpu_cost = cpu / 3600 * 0.05
    return (
        day, product, asset, 2, cpu, 2**30, 0.5, 0, rows, cpu_cost, 0.0025, 0.0, cpu_cost + 0.0025,
        (cpu_cost + 0.0025) / rows * 1000 if rows else None,
    )  # fmt: skip


def anomaly_row(
    record_id: str, asset: str, metric: str, started: datetime, observed: float
) -> tuple[Any, ...]:
    score = (observed - 1000.0) / 50.0
    return (
        started.date(), "web", asset, f"run-{record_id}", record_id, started, metric, observed, 1000.0,
        825.0, 1175.0, score, "drop" if score < 0 else "spike", 4,
    )  # fmt: skip


def build_lake(lake_root: str) -> None:
    write_rows(
        lake_root,
        specs.SILVER_RUNS,
        RunAttempt,
        attempt("r1", "run-1", "silver", "failed", 0),
        attempt("r2", "run-1", "silver", "succeeded", 1),
        attempt("r3", "run-2", "gold", "failed", 2),
    )
    write_rows(
        lake_root,
        specs.GOLD_RUN_STATS,
        RunStats,
        (DAY, "web", "gold", 1, 0, 1, 1, 1, 0, 0, 5.0, 5.0, 5.0, 10, 9, 1, 0.1),
        (DAY, "web", "silver", 1, 1, 0, 2, 1, 1, 0, 5.0, 5.0, 5.0, 20, 18, 2, 0.1),
    )
    earlier = CHECKED - timedelta(days=1)
    write_rows(
        lake_root,
        specs.GOLD_FRESHNESS,
        TableFreshness,
        freshness_row("web.gold.daily", earlier - timedelta(minutes=1), 60, 120, "ok", earlier),
        freshness_row("web.silver.events", earlier, 60, 120, "ok", earlier),
    )
    write_rows(
        lake_root,
        specs.GOLD_FRESHNESS,
        TableFreshness,
        freshness_row("web.gold.daily", CHECKED - timedelta(minutes=50), 60, 120, "ok"),
        freshness_row("web.silver.events", CHECKED - timedelta(minutes=10), 15, 60, "ok"),
        freshness_row("app.gold.never", None, 60, 120, "missing"),
        mode="append",
    )
    hour = timedelta(hours=1)
    write_rows(
        lake_root,
        specs.GOLD_INCIDENTS,
        Incident,
        incident("asset_failing", "silver", NOON - 30 * hour, NOON - 29 * hour),
        incident("asset_failing", "gold", NOON - 26 * hour, None),
        incident("sla_breach", "web.gold.daily", NOON, NOON + 2 * hour),
        incident("sla_breach", "app.gold.daily", NOON + hour, None, product="app"),
    )
    write_rows(
        lake_root,
        specs.GOLD_SLA_COMPLIANCE,
        SlaCompliance,
        compliance("day", DAY, "web.gold.daily", 2, 1, 1),
        compliance("day", DAY - timedelta(days=1), "web.gold.daily", 4, 0, 0),
        compliance("day", DAY, "web.silver.events", 4, 0, 0),
        compliance("month", date(2026, 3, 1), "web.gold.daily", 6, 1, 1),
    )
    write_rows(
        lake_root,
        specs.GOLD_COST,
        AssetCost,
        cost_row(DAY, "web", "silver", 7200.0, 2000),
        cost_row(DAY, "web", "gold", 360.0, 0),
        cost_row(DAY, "app", "gold", 36.0, 10),
        cost_row(DAY - timedelta(days=1), "web", "silver", 3600.0, 1000),
    )
    write_rows(
        lake_root,
        specs.GOLD_ANOMALIES,
        Anomaly,
        anomaly_row("a1", "silver", "rows_written", NOON, 100.0),
        anomaly_row("a1", "silver", "cost", NOON, 1500.0),
        anomaly_row("a0", "gold", "duration_seconds", NOON - timedelta(days=2), 2000.0),
    )


@pytest.fixture
def client(lake_root: str) -> TestClient:
    build_lake(lake_root)
    return TestClient(
        create_app(ops_config(), lake_root=lake_root, clock=lambda: CHECKED + timedelta(minutes=20))
    )


def test_runs_filter_by_product_asset_and_status_newest_first(client: TestClient) -> None:
    failed = get_ok(client, "/v1/runs", {}, **DAY_RANGE, status="failed")
    silver = get_ok(client, "/v1/runs", {}, **DAY_RANGE, product="web", asset="silver")

    assert [r["record_id"] for r in failed["items"]] == ["r3", "r1"]
    assert [r["record_id"] for r in silver["items"]] == ["r2", "r1"]
    assert silver["items"][0]["delta_versions"] == {"web.silver.events": 3}
    assert get_ok(client, "/v1/runs", {}, **DAY_RANGE, product="other")["items"] == []


def test_runs_paginate(client: TestClient) -> None:
    first = get_ok(client, "/v1/runs", {}, **DAY_RANGE, limit=2)
    rest = get_ok(client, "/v1/runs", {}, **DAY_RANGE, limit=2, offset=2)

    assert (first["total"], first["next_offset"], [r["record_id"] for r in first["items"]]) == (
        3,
        2,
        ["r3", "r2"],
    )
    assert (rest["next_offset"], [r["record_id"] for r in rest["items"]]) == (None, ["r1"])


def test_a_run_by_id_has_its_attempts_and_the_outcome_of_its_final_attempts(client: TestClient) -> None:
    run = get_ok(client, "/v1/runs/run-1", {})

    assert (run["status"], [a["record_id"] for a in run["attempts"]]) == ("succeeded", ["r1", "r2"])
    assert get_ok(client, "/v1/runs/run-2", {})["status"] == "failed"


def test_run_stats_filter_by_asset(client: TestClient) -> None:
    page = get_ok(client, "/v1/run-stats", {}, **DAY_RANGE, asset="silver")

    assert [(s["asset"], s["retries"], s["quarantine_rate"]) for s in page["items"]] == [("silver", 1, 0.1)]


def test_freshness_now_is_the_newest_check_aged_to_the_request(client: TestClient) -> None:
    rows = {f["table_name"]: f for f in get_ok(client, "/v1/freshness", {})}

    assert set(rows) == {"web.gold.daily", "web.silver.events", "app.gold.never"}
    assert (rows["web.gold.daily"]["state"], rows["web.gold.daily"]["age_seconds"]) == ("warn", 70 * 60.0)
    assert (rows["web.silver.events"]["last_state"], rows["web.silver.events"]["state"]) == ("ok", "warn")
    assert rows["app.gold.never"]["state"] == "missing"
    assert [f["table_name"] for f in get_ok(client, "/v1/freshness", {}, state="warn")] == [
        "web.gold.daily",
        "web.silver.events",
    ]
    assert (
        get_ok(client, "/v1/freshness", {}, layer="silver", product="web")[0]["table_name"]
        == "web.silver.events"
    )


def test_metrics_export_freshness_and_failures_as_gauges(client: TestClient) -> None:
    body = client.get("/metrics").text

    gauge = "operational_metrics_table_freshness"
    assert f'{gauge}_age_seconds{{layer="gold",product="web",table="web.gold.daily"}} 4200.0' in body
    assert f'{gauge}_state{{layer="gold",product="web",state="warn",table="web.gold.daily"}} 1.0' in body
    assert f'{gauge}_state{{layer="gold",product="web",state="ok",table="web.gold.daily"}} 0.0' in body
    assert (
        f'{gauge}_sla_seconds{{layer="gold",level="breach",product="web",table="web.gold.daily"}} 7200.0'
        in body
    )
    assert 'operational_metrics_asset_last_run_failed{asset="gold",product="web"} 1.0' in body
    assert 'operational_metrics_asset_last_run_failed{asset="silver",product="web"} 0.0' in body
    assert 'operational_metrics_asset_failures_24h{asset="gold",product="web"} 1.0' in body
    assert 'operational_metrics_open_incidents{kind="asset_failing",product="web"} 1.0' in body
    assert 'operational_metrics_open_incidents{kind="sla_breach",product="web"} 0.0' in body
    assert 'operational_metrics_open_incidents{kind="sla_breach",product="app"} 1.0' in body
    opened = "asset_failing:web/gold:2026-03-01T10:00:00+00:00"
    assert (
        f'operational_metrics_incident_open_seconds{{incident_id="{opened}",kind="asset_failing",'
        f'product="web",subject="gold"}} {(26 * 3600 + 25 * 60):.1f}'
    ) in body


def test_incidents_are_those_open_during_the_range_newest_first(client: TestClient) -> None:
    page = get_ok(client, "/v1/incidents", {}, **DAY_RANGE)
    failing = get_ok(client, "/v1/incidents", {}, **DAY_RANGE, kind="asset_failing")
    still_open = get_ok(client, "/v1/incidents", {}, **DAY_RANGE, status="open", product="web")
    by_table = get_ok(client, "/v1/incidents", {}, **DAY_RANGE, table="web.gold.daily")
    earlier = get_ok(client, "/v1/incidents", {}, start="2026-03-01", end="2026-03-01", asset="silver")

    subjects = [i["asset"] or i["table_name"] for i in page["items"]]
    assert subjects == ["app.gold.daily", "web.gold.daily", "gold"]
    assert [i["asset"] for i in failing["items"]] == ["gold"]
    assert [(i["asset"], i["time_to_recover_seconds"]) for i in still_open["items"]] == [("gold", None)]
    assert [(i["status"], i["time_to_recover_seconds"]) for i in by_table["items"]] == [("closed", 7200.0)]
    assert [i["asset"] for i in earlier["items"]] == ["silver"]
    second = get_ok(client, "/v1/incidents", {}, **DAY_RANGE, limit=1, offset=1)
    assert (second["total"], second["next_offset"], second["items"][0]["table_name"]) == (
        3,
        2,
        "web.gold.daily",
    )


def test_incident_summary_gives_each_products_time_to_detect_and_recover(client: TestClient) -> None:
    summary = {
        s["product"]: s
        for s in get_ok(client, "/v1/incidents/summary", {}, start="2026-02-28", end="2026-03-02")
    }

    web = summary["web"]
    assert (web["incidents"], web["open_incidents"], web["asset_failing"], web["sla_breach"]) == (3, 1, 2, 1)
    assert (web["mean_time_to_detect_seconds"], web["mean_time_to_recover_seconds"]) == (120.0, 5400.0)
    assert web["max_time_to_recover_seconds"] == 7200.0
    assert (summary["app"]["incidents"], summary["app"]["mean_time_to_recover_seconds"]) == (1, None)


def test_sla_compliance_per_day_and_per_month(client: TestClient) -> None:
    days = get_ok(
        client, "/v1/sla-compliance", {}, start="2026-03-01", end="2026-03-02", table="web.gold.daily"
    )
    month = get_ok(client, "/v1/sla-compliance", {}, **DAY_RANGE, period="month")
    silver = get_ok(client, "/v1/sla-compliance", {}, **DAY_RANGE, product="web")

    assert [(d["period_start"], d["compliance"]) for d in days["items"]] == [
        ("2026-03-01", 1.0),
        ("2026-03-02", 0.75),
    ]
    assert [(m["period"], m["period_start"], m["checks"]) for m in month["items"]] == [
        ("month", "2026-03-01", 8)
    ]
    assert [d["table_name"] for d in silver["items"]] == ["web.gold.daily", "web.silver.events"]


def test_cost_per_product_asset_and_day_filters_and_paginates(client: TestClient) -> None:
    day = get_ok(client, "/v1/cost", {}, **DAY_RANGE)
    web = get_ok(client, "/v1/cost", {}, **DAY_RANGE, product="web", limit=1)
    silver = get_ok(client, "/v1/cost", {}, start="2026-03-01", end="2026-03-02", asset="silver")

    assert [(c["product"], c["asset"]) for c in day["items"]] == [
        ("app", "gold"),
        ("web", "gold"),
        ("web", "silver"),
    ]
    assert (web["total"], web["next_offset"], web["items"][0]["asset"]) == (2, 1, "gold")
    assert web["items"][0]["cost_per_1000_rows"] is None
    assert [(c["date"], c["cpu_seconds"]) for c in silver["items"]] == [
        ("2026-03-01", 3600.0),
        ("2026-03-02", 7200.0),
    ]
    assert silver["items"][1]["cost_per_1000_rows"] == pytest.approx((0.1 + 0.0025) / 2)


def test_anomalies_newest_first_filter_by_asset_and_metric(client: TestClient) -> None:
    week = {"start": "2026-02-24", "end": "2026-03-02"}
    every = get_ok(client, "/v1/anomalies", {}, **week)
    volume = get_ok(client, "/v1/anomalies", {}, **week, metric="rows_written")
    gold = get_ok(client, "/v1/anomalies", {}, **week, asset="gold", product="web")
    second = get_ok(client, "/v1/anomalies", {}, **week, limit=1, offset=1)

    assert [(a["record_id"], a["metric"]) for a in every["items"]] == [
        ("a1", "cost"),
        ("a1", "rows_written"),
        ("a0", "duration_seconds"),
    ]
    [drop] = volume["items"]
    assert (drop["direction"], drop["observed"], drop["low"], drop["high"], drop["score"]) == (
        "drop",
        100.0,
        825.0,
        1175.0,
        -18.0,
    )
    assert [a["metric"] for a in gold["items"]] == ["duration_seconds"]
    assert (second["total"], second["next_offset"], second["items"][0]["metric"]) == (3, 2, "rows_written")
    assert get_ok(client, "/v1/anomalies", {}, **DAY_RANGE, asset="gold")["items"] == []


def test_metrics_count_each_assets_anomalies_of_the_last_24_hours(client: TestClient) -> None:
    body = client.get("/metrics").text

    assert 'operational_metrics_asset_anomalies_24h{asset="silver",product="web"} 2.0' in body
    assert 'operational_metrics_asset_anomalies_24h{asset="gold",product="web"} 0.0' in body


def test_every_metric_the_alert_rules_use_is_in_the_metrics_output(client: TestClient) -> None:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    used = {name for group in groups for rule in group["rules"] for name in metric_names(rule["expr"])}
    scraped = client.get("/metrics").text
    exported = {
        sample.name for family in text_string_to_metric_families(scraped) for sample in family.samples
    }

    assert used >= {
        "operational_metrics_table_freshness_state",
        "operational_metrics_asset_last_run_failed",
        "operational_metrics_incident_open_seconds",
        "operational_metrics_asset_anomalies_24h",
    }
    assert used - exported == set()


def scraped_names(prometheus: str, deadline: float) -> set[str]:
    """The operational_metrics_* names Prometheus has stored, once it has scraped at least once.

    Until its storage is open, Prometheus answers 503 "Service Unavailable" in plain text, so
    only a 200 answer is read.
    """
    names: set[str] = set()
    while time.monotonic() < deadline and not names:
        try:
            answer = httpx.get(f"{prometheus}/api/v1/label/__name__/values", timeout=2)
        except httpx.HTTPError:
            answer = None
        if answer is not None and answer.status_code == 200:
            names = {n for n in answer.json()["data"] if n.startswith("operational_metrics_")}
        time.sleep(0.5)
    return names


def test_a_real_prometheus_scraping_the_exporter_sees_every_gauge(lake_root: str, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus server is not installed: run `make setup` (Debian's prometheus package)")
    build_lake(lake_root)
    app = create_app(ops_config(), lake_root=lake_root, clock=lambda: CHECKED + timedelta(minutes=20))
    gauges = {family.name for family in OpsCollector(None, lambda: CHECKED).describe()}  # type: ignore[arg-type]
    with serve_in_thread(app) as api:
        target = api.removeprefix("http://")
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s}\n"
            f"scrape_configs: [{{job_name: ops, static_configs: [{{targets: ['{target}']}}]}}]\n"
        )
        port = free_port()
        server = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            names = scraped_names(f"http://127.0.0.1:{port}", time.monotonic() + 60)
        finally:
            server.terminate()
            server.wait(timeout=30)

    assert len(gauges) == 8
    assert names >= gauges


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/v1/runs", {"start": "2026-03-02", "end": "2026-03-01"}, 400, "end (2026-03-01) is before start"),
        ("/v1/runs", {"start": "2024-01-01", "end": "2026-03-01"}, 400, "at most 400 days"),
        ("/v1/runs", {"start": "yesterday"}, 422, "start"),
        ("/v1/runs", {"status": "exploded"}, 422, "status"),
        ("/v1/runs", {"limit": 0}, 422, "limit"),
        ("/v1/runs", {"product": "web user"}, 422, "product"),
        ("/v1/run-stats", {"asset": ""}, 422, "asset"),
        ("/v1/run-stats", {"end": "2026-02-30"}, 422, "end"),
        ("/v1/freshness", {"state": "late"}, 422, "state"),
        ("/v1/freshness", {"layer": "platinum"}, 422, "layer"),
        ("/v1/runs/run%20one", {}, 422, "run_id"),
        ("/v1/runs/unknown-run", {}, 404, "no attempt of run 'unknown-run'"),
        ("/v1/incidents", {"kind": "outage"}, 422, "kind"),
        ("/v1/incidents", {"status": "ongoing"}, 422, "status"),
        ("/v1/incidents", {"table": "web gold"}, 422, "table"),
        ("/v1/incidents", {"start": "2026-03-03", "end": "2026-03-02"}, 400, "before start"),
        ("/v1/incidents/summary", {"product": "a b"}, 422, "product"),
        ("/v1/sla-compliance", {"period": "week"}, 422, "period"),
        ("/v1/sla-compliance", {"limit": 5000}, 422, "limit"),
        ("/v1/cost", {"start": "2026-03-02", "end": "2026-03-01"}, 400, "before start"),
        ("/v1/cost", {"product": "web user"}, 422, "product"),
        ("/v1/cost", {"offset": -1}, 422, "offset"),
        ("/v1/anomalies", {"metric": "latency"}, 422, "metric"),
        ("/v1/anomalies", {"asset": ""}, 422, "asset"),
        ("/v1/anomalies", {"end": "2026-13-01"}, 422, "end"),
    ],
)
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(
    client: TestClient, path: str, params: dict[str, Any], status: int, message: str
) -> None:
    response = client.get(path, params=params)

    assert response.status_code == status, response.text
    assert message in response.text


def test_before_the_pipeline_ran_the_routes_answer_503_and_metrics_still_serve(lake_root: str) -> None:
    client = TestClient(create_app(ops_config(), lake_root=lake_root))

    response = client.get("/v1/freshness")
    assert response.status_code == 503
    assert "does not exist yet" in response.json()["detail"]
    assert client.get("/v1/runs").status_code == 503
    assert client.get("/ready").status_code == 503
    assert client.get("/metrics").status_code == 200


def test_with_api_keys_the_routes_need_the_operator_role(lake_root: str) -> None:
    build_lake(lake_root)
    keys = {"ops-key": ["operator"], "other-key": ["analyst"]}
    client = TestClient(create_app(ops_config(keys), lake_root=lake_root))

    assert client.get("/v1/freshness").status_code == 401
    assert client.get("/v1/freshness", headers={API_KEY_HEADER: "other-key"}).status_code == 403
    assert client.get("/v1/freshness", headers={API_KEY_HEADER: "ops-key"}).status_code == 200
