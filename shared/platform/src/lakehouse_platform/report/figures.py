"""plotly figures of the reports; plotly is imported when a figure is built, so importing the
module (and the command line) does not load it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakehouse_platform.report.gather import KeyTraffic, LastRun, QualityState, TableState

STATE_COLOURS = {"ok": "#54a24b", "warn": "#f58518", "breach": "#e45756", "missing": "#9d9d9d"}
STATUS_COLOURS = {"succeeded": "#54a24b", "failed": "#e45756", "skipped": "#9d9d9d"}


def freshness_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Per table (``table_name``): the age of its newest data (``age_seconds``, labelled with its
    ``state``) against its ``warn_minutes`` and ``breach_minutes``, in minutes; a table without
    data has no age bar."""
    import plotly.graph_objects as go

    tables = [r["table_name"] for r in rows]
    ages = [r["age_seconds"] / 60 if r["age_seconds"] is not None else None for r in rows]
    figure = go.Figure(
        [
            go.Bar(name="age", x=tables, y=ages, text=[r["state"] for r in rows], marker_color="#4c78a8"),
            go.Scatter(
                name="warn level",
                x=tables,
                y=[r["warn_minutes"] for r in rows],
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 28, "color": "#f58518"},
            ),
            go.Scatter(
                name="breach level",
                x=tables,
                y=[r["breach_minutes"] for r in rows],
                mode="markers",
                marker={"symbol": "line-ew-open", "size": 28, "color": "#e45756"},
            ),
        ]
    )
    figure.update_layout(yaxis_title="minutes", xaxis_tickangle=-30)
    return figure


def growth_figure(tables: Sequence[TableState]) -> Any:
    """Rows of each table at each of its versions, over commit time (one line per table)."""
    import plotly.graph_objects as go

    traces = [
        go.Scatter(
            name=t.name,
            x=[v.committed_at for v in t.versions],
            y=[v.rows for v in t.versions],
            text=[f"version {v.version}: {v.operation}" for v in t.versions],
            mode="lines+markers",
        )
        for t in tables
    ]
    figure = go.Figure(traces)
    figure.update_layout(xaxis_title="commit time (UTC)", yaxis_title="rows")
    return figure


def quality_figure(quality: Sequence[QualityState]) -> Any:
    """Per quarantine table: rows passed and quarantined, stacked, with the pass rate on hover."""
    import plotly.graph_objects as go

    names = [q.quarantine for q in quality]
    rates = [f"pass rate {q.pass_rate:.1%}" if q.pass_rate is not None else "no rows" for q in quality]
    figure = go.Figure(
        [
            go.Bar(name="passed", x=names, y=[q.passed for q in quality], text=rates, marker_color="#54a24b"),
            go.Bar(name="quarantined", x=names, y=[q.quarantined for q in quality], marker_color="#e45756"),
        ]
    )
    figure.update_layout(barmode="stack", yaxis_title="rows")
    return figure


def runs_figure(runs: Sequence[LastRun]) -> Any:
    """Each asset's last run: its duration, coloured by its status."""
    import plotly.graph_objects as go

    figure = go.Figure(
        [
            go.Bar(
                name=status,
                x=[r.asset for r in runs if r.status == status],
                y=[r.duration_seconds for r in runs if r.status == status],
                text=[r.started_at.isoformat(timespec="seconds") for r in runs if r.status == status],
                marker_color=colour,
            )
            for status, colour in STATUS_COLOURS.items()
            if any(r.status == status for r in runs)
        ]
    )
    figure.update_layout(yaxis_title="seconds")
    return figure


def traffic_figure(traffic: Sequence[KeyTraffic]) -> Any:
    """Requests per API key id, stacked by outcome."""
    import plotly.graph_objects as go

    keys = [t.api_key_id or "(no key)" for t in traffic]
    figure = go.Figure(
        [
            go.Bar(name=outcome, x=keys, y=[getattr(t, outcome) for t in traffic], marker_color=colour)
            for outcome, colour in (
                ("succeeded", "#54a24b"),
                ("denied", "#e45756"),
                ("invalid", "#f58518"),
                ("failed", "#b279a2"),
            )
        ]
    )
    figure.update_layout(barmode="stack", yaxis_title="requests")
    return figure
