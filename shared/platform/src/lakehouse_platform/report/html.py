"""The page shell every report shares (plotly.js inlined once in the head, so the file opens
without a server or network), and the platform report's page."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakehouse_platform.report.gather import PlatformState, ProductState

STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:0.5em 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child"
    "{text-align:left}.empty{color:#777}.ok{color:#2e7d32}.warn{color:#ef6c00}.breach,.missing,"
    ".failed{color:#c62828}"
)


def chart(name: str, figure: Any) -> str:
    """A figure as a div (``chart-<name>``) without its own copy of plotly.js."""
    return str(figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{name}"))


def section(name: str, title: str, content: str | None, *, empty: str = "No data.", level: int = 2) -> str:
    shown = content if content is not None else f"<p class='empty'>{html.escape(empty)}</p>"
    return f"<section id='{html.escape(name)}'><h{level}>{html.escape(title)}</h{level}>{shown}</section>"


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """An HTML table; a cell given as ``(text, css_class)`` is shown with that class."""

    def cell(value: object) -> str:
        if isinstance(value, tuple):
            text, css = value
            return f"<td class='{html.escape(str(css))}'>{html.escape(str(text))}</td>"
        return f"<td>{html.escape('' if value is None else str(value))}</td>"

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, heading: str, sections: Iterable[str]) -> str:
    from plotly.offline import get_plotlyjs

    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(heading)}</h1>{''.join(sections)}</body></html>"
    )


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _product_section(product: ProductState, state: PlatformState) -> str:
    from lakehouse_platform.report import figures

    key = product.name
    tables = table(
        ["table", "layer", "version", "rows", "added by it", "newest data", "age", "warn / breach", "state"],
        (
            (
                t.name,
                t.layer,
                t.version,
                t.rows,
                t.growth,
                t.newest_data_at.isoformat(timespec="seconds") if t.newest_data_at else "",
                _age(t.age_seconds),
                f"{t.warn_minutes} / {t.breach_minutes} min",
                (t.state, t.state),
            )
            for t in product.tables
        ),
    )
    built = [t for t in product.tables if t.versions]
    quality = (
        table(
            ["quarantine", "checked against", "passed", "quarantined", "pass rate", "by rule"],
            (
                (
                    q.quarantine,
                    q.source,
                    q.passed,
                    q.quarantined,
                    _share(q.pass_rate),
                    ", ".join(f"{rule}: {n}" for rule, n in sorted(q.by_rule.items())),
                )
                for q in product.quality
            ),
        )
        + chart(f"{key}-quality", figures.quality_figure(product.quality))
        if product.quality
        else None
    )
    runs = state.runs.of(key) if state.runs is not None else []
    traffic = state.traffic.of(key) if state.traffic is not None else []
    parts = [
        section(f"{key}-tables", "Tables and freshness against SLA", tables, level=3),
        chart(f"{key}-freshness", figures.freshness_figure([t.freshness_row() for t in product.tables])),
        section(
            f"{key}-growth",
            "Rows per Delta version",
            chart(f"{key}-growth", figures.growth_figure(built)) if built else None,
            empty="No table built yet.",
            level=3,
        ),
        section(
            f"{key}-quality",
            "Quality: rows passed and quarantined",
            quality,
            empty="No quarantine table.",
            level=3,
        ),
        section(
            f"{key}-runs",
            "Last runs",
            _runs(key, runs) if runs else None,
            empty="No run records yet." if state.runs is None else "No runs recorded for this product.",
            level=3,
        ),
        section(
            f"{key}-traffic",
            "API traffic per key",
            _traffic(key, traffic) if traffic else None,
            empty="No audit trail yet." if state.traffic is None else "No API requests audited.",
            level=3,
        ),
    ]
    return section(key, f"{key} (owner: {product.owner})", "".join(parts))


def _runs(key: str, runs: Sequence[Any]) -> str:
    from lakehouse_platform.report import figures

    rows = (
        (
            r.asset,
            r.run_id,
            r.started_at.isoformat(timespec="seconds"),
            f"{r.duration_seconds:.1f} s",
            r.attempt,
            (r.status, r.status),
            r.error or "",
        )
        for r in runs
    )
    listing = table(["asset", "run", "started", "duration", "attempt", "status", "error"], rows)
    return listing + chart(f"{key}-runs", figures.runs_figure(runs))


def _traffic(key: str, traffic: Sequence[Any]) -> str:
    from lakehouse_platform.report import figures

    rows = (
        (
            t.api_key_id or "(no key)",
            t.requests,
            t.succeeded,
            t.denied,
            t.invalid,
            t.failed,
            t.last_at.isoformat(),
        )
        for t in traffic
    )
    listing = table(["API key id", "requests", "succeeded", "denied", "invalid", "failed", "last"], rows)
    return listing + chart(f"{key}-traffic", figures.traffic_figure(traffic))


def render(state: PlatformState) -> str:
    """The platform page: a summary, then per product its tables, growth, quality, runs and traffic."""
    at = state.generated_at.isoformat(timespec="seconds")
    summary = table(
        ["product", "tables", "built", "ok", "warn", "breach", "missing"],
        (
            (
                p.name,
                len(p.tables),
                sum(1 for t in p.tables if t.versions),
                *(sum(1 for t in p.tables if t.state == s) for s in ("ok", "warn", "breach", "missing")),
            )
            for p in state.products
        ),
    )
    runs = state.runs.source if state.runs else "nowhere: no run records yet"
    traffic = state.traffic.source if state.traffic else "nowhere: no audit trail yet"
    sources = f"<p>Runs from {html.escape(runs)}. API traffic from {html.escape(traffic)}.</p>"
    products = {p.name for p in state.products}
    others = sorted({t.service for t in state.traffic.per_key} - products) if state.traffic else []
    sections = [
        section("summary", "Summary", summary + sources),
        *(_product_section(p, state) for p in state.products),
        *(
            section(service, f"{service}: API traffic per key", _traffic(service, state.traffic.of(service)))
            for service in others
            if state.traffic is not None
        ),
    ]
    return page(f"lakehouse platform report {at}", f"Platform report ({at} UTC)", sections)
