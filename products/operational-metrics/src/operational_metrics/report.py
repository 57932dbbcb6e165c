"""``operational-metrics report``: one UTC day of gold as a self-contained HTML page of plotly
charts (plotly.js inlined once, no external script), read through delta-rs (no Spark).

Sections: freshness against the SLA per table (the day's last check), run durations per asset
with failed runs marked, the incidents open that day on a timeline, and the day's SLA
compliance per table."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.errors import TableNotFoundError
from operational_metrics.storage.tables import (
    GOLD_FRESHNESS,
    GOLD_INCIDENTS,
    GOLD_RUN_STATS,
    GOLD_SLA_COMPLIANCE,
)

SECTIONS = ("freshness", "durations", "incidents", "compliance")


@dataclass(frozen=True)
class DayOfGold:
    """The gold rows one report shows."""

    day: date
    freshness: list[dict[str, Any]]
    run_stats: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    compliance: list[dict[str, Any]]


def _rows(location: str, condition: pc.Expression) -> list[dict[str, Any]]:
    try:
        return read_arrow(location, filter=condition).to_pylist()  # type: ignore[no-any-return]
    except TableNotFoundError:
        return []


def read_day(lake_root: str, day: date) -> DayOfGold:
    """The gold of ``day``: its freshness checks, run statistics, the incidents open at some time
    that day, and its day rows of SLA compliance."""
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
    )


def _last_checks(checks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for row in checks:
        name = row["table_name"]
        if name not in latest or row["checked_at"] > latest[name]["checked_at"]:
            latest[name] = row
    return [latest[name] for name in sorted(latest)]


def freshness_figure(checks: Sequence[dict[str, Any]]) -> Any:
    """Per table at the day's last check: the age of its newest data against its warn and breach
    levels, in minutes (a missing table has no age bar)."""
    import plotly.graph_objects as go

    last = _last_checks(checks)
    tables = [r["table_name"] for r in last]
    ages = [r["age_seconds"] / 60 if r["age_seconds"] is not None else None for r in last]
    figure = go.Figure(
        [
            go.Bar(name="age", x=tables, y=ages, text=[r["state"] for r in last], marker_color="#4c78a8"),
            go.Scatter(
                name="warn level",
                x=tables,
                y=[r["warn_minutes"] for r in last],
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 28, "color": "#f58518"},
            ),
            go.Scatter(
                name="breach level",
                x=tables,
                y=[r["breach_minutes"] for r in last],
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 28, "color": "#e45756"},
            ),
        ]
    )
    figure.update_layout(yaxis_title="minutes", xaxis_tickangle=-30)
    return figure


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


def compliance_table(rows: Sequence[dict[str, Any]]) -> str:
    def share(value: float | None) -> str:
        return "" if value is None else f"{value:.0%}"

    body = "".join(
        f"<tr><td>{html.escape(r['table_name'])}</td><td>{r['checks']}</td><td>{share(r['ok_share'])}</td>"
        f"<td>{share(r['warn_share'])}</td><td>{share(r['breach_share'])}</td>"
        f"<td>{share(r['compliance'])}</td></tr>"
        for r in sorted(rows, key=lambda r: r["table_name"])
    )
    return (
        "<table><thead><tr><th>table</th><th>checks</th><th>ok</th><th>warn</th><th>breach</th>"
        f"<th>compliance</th></tr></thead><tbody>{body}</tbody></table>"
    )


def render(gold: DayOfGold) -> str:
    """The page: plotly.js inlined once in the head, one chart per section with data."""
    from plotly.offline import get_plotlyjs

    def chart(name: str, figure: Any) -> str:
        return str(figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{name}"))

    def section(name: str, title: str, content: str | None) -> str:
        shown = content if content is not None else "<p class='empty'>No data for this day.</p>"
        return f"<section id='{name}'><h2>{html.escape(title)}</h2>{shown}</section>"

    day = gold.day.isoformat()
    sections = [
        section(
            "freshness",
            "Freshness against SLA, per table (last check of the day)",
            chart("freshness", freshness_figure(gold.freshness)) if gold.freshness else None,
        ),
        section(
            "durations",
            "Run durations per asset (failed runs marked)",
            chart("durations", durations_figure(gold.run_stats)) if gold.run_stats else None,
        ),
        section(
            "incidents",
            "Incidents open during the day",
            chart("incidents", incidents_figure(gold.incidents, gold.day)) if gold.incidents else None,
        ),
        section(
            "compliance",
            "SLA compliance (share of checks)",
            compliance_table(gold.compliance) if gold.compliance else None,
        ),
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>operational-metrics {day}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
        ".empty{color:#777}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<h1>operational-metrics: {day} (UTC)</h1>{''.join(sections)}</body></html>"
    )


def write_report(lake_root: str, day: date, out: Path) -> DayOfGold:
    """Write the report of ``day`` to ``out``; returns what it showed."""
    gold = read_day(lake_root, day)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(gold), encoding="utf-8")
    return gold
