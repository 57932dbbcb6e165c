"""``operational-metrics report``: one UTC day of gold as a self-contained HTML page of plotly
charts (plotly.js inlined once, no external script), read through delta-rs (no Spark).

Sections: freshness against the SLA per table (the day's last check), run durations per asset
with failed runs marked, the incidents open that day on a timeline, the day's SLA compliance per
table, the day's cost per product (CPU, memory, storage) and its anomalies marked on a timeline
of the runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.errors import TableNotFoundError
from lakehouse_platform.report.figures import freshness_figure
from lakehouse_platform.report.html import chart, page, section, table
from operational_metrics.storage.tables import (
    GOLD_ANOMALIES,
    GOLD_COST,
    GOLD_FRESHNESS,
    GOLD_INCIDENTS,
    GOLD_RUN_STATS,
    GOLD_SLA_COMPLIANCE,
)

SECTIONS = ("freshness", "durations", "incidents", "compliance", "cost", "anomalies")


@dataclass(frozen=True)
class DayOfGold:
    """The gold rows one report shows."""

    day: date
    freshness: list[dict[str, Any]]
    run_stats: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    compliance: list[dict[str, Any]]
    cost: list[dict[str, Any]]
    anomalies: list[dict[str, Any]]


def _rows(location: str, condition: pc.Expression) -> list[dict[str, Any]]:
    try:
        return read_arrow(location, filter=condition).to_pylist()  # type: ignore[no-any-return]
    except TableNotFoundError:
        return []


def read_day(lake_root: str, day: date) -> DayOfGold:
    """The gold of ``day``: its freshness checks, run statistics, the incidents open at some time
    that day, its day rows of SLA compliance, its cost rows and the anomalies of its runs."""
    on_day = pa.scalar(day, pa.date32())
    day_start = pa.scalar(datetime.combine(day, time(), tzinfo=UTC), pa.timestamp("us", "UTC"))
    closed = pc.field("closed_at")
    return DayOfGold(
        day=day,
        freshness=_rows(GOLD_FRESHNESS.location(lake_root), pc.field("check_date") == on_day),
        run_stats=_rows(GOLD_RUN_STATS.location(lake_root), pc.field("date") == on_day),
        incidents=_rows(
            GOLD_INCIDENTS.location(lake_root),
            (pc.field("opened_date") <= on_day) & (closed.is_null() | (closed >= day_start)),
        ),
        compliance=_rows(
            GOLD_SLA_COMPLIANCE.location(lake_root),
            (pc.field("period") == "day") & (pc.field("period_start") == on_day),
        ),
        cost=_rows(GOLD_COST.location(lake_root), pc.field("date") == on_day),
        anomalies=_rows(GOLD_ANOMALIES.location(lake_root), pc.field("run_date") == on_day),
    )


def _last_checks(checks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for row in checks:
        name = row["table_name"]
        if name not in latest or row["checked_at"] > latest[name]["checked_at"]:
            latest[name] = row
    return [latest[name] for name in sorted(latest)]


def durations_figure(stats: Sequence[dict[str, Any]]) -> Any:
    """Per product and asset: attempt duration p50, p95 and max; the assets with failed runs
    marked with their count."""
    import plotly.graph_objects as go

    ordered = sorted(stats, key=lambda r: (r["product"], r["asset"]))
    assets = [f"{r['product']}/{r['asset']}" for r in ordered]
    bars = [
        go.Bar(name=label, x=assets, y=[r[column] for r in ordered])
        for label, column in (
            ("p50", "duration_p50_seconds"),
            ("p95", "duration_p95_seconds"),
            ("max", "duration_max_seconds"),
        )
    ]
    failing = [r for r in ordered if r["failures"] or r["failed_attempts"]]
    marks = go.Scatter(
        name="failed runs",
        x=[f"{r['product']}/{r['asset']}" for r in failing],
        y=[r["duration_max_seconds"] or 0 for r in failing],
        mode="markers+text",
        text=[f"{r['failures']} failed, {r['failed_attempts']} failed attempts" for r in failing],
        textposition="top center",
        marker={"symbol": "x", "size": 14, "color": "#e45756"},
    )
    figure = go.Figure([*bars, marks])
    figure.update_layout(barmode="group", yaxis_title="seconds", xaxis_tickangle=-30)
    return figure


def incidents_figure(found: Sequence[dict[str, Any]], day: date) -> Any:
    """Each incident open that day as a line from its opening to its closing (or the day's end
    while open), one series per kind."""
    import plotly.graph_objects as go

    end_of_day = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    traces = []
    for kind, colour in (("asset_failing", "#e45756"), ("sla_breach", "#f58518")):
        xs: list[datetime | None] = []
        ys: list[str | None] = []
        for row in sorted((r for r in found if r["kind"] == kind), key=lambda r: r["opened_at"]):
            subject = f"{row['product']}/{row['asset'] or row['table_name']}"
            xs += [row["opened_at"], row["closed_at"] or end_of_day, None]
            ys += [subject, subject, None]
        traces.append(
            go.Scatter(name=kind, x=xs, y=ys, mode="lines+markers", line={"width": 8, "color": colour})
        )
    figure = go.Figure(traces)
    figure.update_layout(xaxis_title="UTC", xaxis_range=[end_of_day - timedelta(days=1), end_of_day])
    return figure


def cost_figure(rows: Sequence[dict[str, Any]]) -> Any:
    """Per product: the day's CPU, memory and storage cost, stacked."""
    import plotly.graph_objects as go

    products = sorted({r["product"] for r in rows})
    bars = [
        go.Bar(
            name=label, x=products, y=[sum(r[column] for r in rows if r["product"] == p) for p in products]
        )
        for label, column in (("cpu", "cpu_cost"), ("memory", "memory_cost"), ("storage", "storage_cost"))
    ]
    figure = go.Figure(bars)
    figure.update_layout(barmode="stack", yaxis_title="cost (configured currency)")
    return figure


def anomalies_figure(found: Sequence[dict[str, Any]], day: date) -> Any:
    """Each anomaly as a marker at its run's start on its asset's row, one series per metric; the
    hover text gives the observed value, the expected range and the score."""
    import plotly.graph_objects as go

    start = datetime.combine(day, time(), tzinfo=UTC)
    traces = []
    for metric in sorted({r["metric"] for r in found}):
        rows = sorted((r for r in found if r["metric"] == metric), key=lambda r: r["started_at"])
        traces.append(
            go.Scatter(
                name=metric,
                x=[r["started_at"] for r in rows],
                y=[f"{r['product']}/{r['asset']}" for r in rows],
                mode="markers",
                marker={"symbol": "diamond", "size": 12},
                text=[
                    f"{r['direction']}: {r['observed']:.4g}, expected {r['low']:.4g} to {r['high']:.4g} "
                    f"(z {r['score']:.1f})"
                    for r in rows
                ],
                hoverinfo="text+name",
            )
        )
    figure = go.Figure(traces)
    figure.update_layout(xaxis_title="UTC", xaxis_range=[start, start + timedelta(days=1)])
    return figure


def compliance_table(rows: Sequence[dict[str, Any]]) -> str:
    def share(value: float | None) -> str:
        return "" if value is None else f"{value:.0%}"

    return table(
        ["table", "checks", "ok", "warn", "breach", "compliance"],
        (
            (
                r["table_name"],
                r["checks"],
                share(r["ok_share"]),
                share(r["warn_share"]),
                share(r["breach_share"]),
                share(r["compliance"]),
            )
            for r in sorted(rows, key=lambda r: r["table_name"])
        ),
    )


def render(gold: DayOfGold) -> str:
    """The page: plotly.js inlined once in the head, one chart per section with data."""
    empty = "No data for this day."
    day = gold.day.isoformat()
    sections = [
        section(
            "freshness",
            "Freshness against SLA, per table (last check of the day)",
            chart("freshness", freshness_figure(_last_checks(gold.freshness))) if gold.freshness else None,
            empty=empty,
        ),
        section(
            "durations",
            "Run durations per asset (failed runs marked)",
            chart("durations", durations_figure(gold.run_stats)) if gold.run_stats else None,
            empty=empty,
        ),
        section(
            "incidents",
            "Incidents open during the day",
            chart("incidents", incidents_figure(gold.incidents, gold.day)) if gold.incidents else None,
            empty=empty,
        ),
        section(
            "compliance",
            "SLA compliance (share of checks)",
            compliance_table(gold.compliance) if gold.compliance else None,
            empty=empty,
        ),
        section(
            "cost",
            "Cost per product (CPU, memory, storage)",
            chart("cost", cost_figure(gold.cost)) if gold.cost else None,
            empty=empty,
        ),
        section(
            "anomalies",
            "Anomalies of the day's runs (outside their seasonal baseline)",
            chart("anomalies", anomalies_figure(gold.anomalies, gold.day)) if gold.anomalies else None,
            empty=empty,
        ),
    ]
    return page(f"operational-metrics {day}", f"operational-metrics: {day} (UTC)", sections)


def write_report(lake_root: str, day: date, out: Path) -> DayOfGold:
    """Write the report of ``day`` to ``out``; returns what it showed."""
    gold = read_day(lake_root, day)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(gold), encoding="utf-8")
    return gold
