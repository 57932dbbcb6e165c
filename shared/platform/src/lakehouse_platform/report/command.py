"""``lakehouse report``: the platform report as one self-contained HTML file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from lakehouse_core.errors import LakehouseError
from lakehouse_core.settings import LakehouseSettings

if TYPE_CHECKING:
    from lakehouse_platform.catalog import Catalog
    from lakehouse_platform.report.gather import PlatformState


def write_report(
    catalog: Catalog, out: Path, *, state_dir: Path, now: datetime | None = None, versions: int = 20
) -> PlatformState:
    """Gather the platform's state and write its page to ``out``; returns what it showed."""
    from lakehouse_platform.report.gather import gather
    from lakehouse_platform.report.html import render

    state = gather(catalog, state_dir=state_dir, now=now, versions=versions)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(state), encoding="utf-8")
    return state


def report(
    out: Annotated[Path, typer.Option(help="Where to write the HTML page.")] = Path("platform-report.html"),
    versions: Annotated[
        int, typer.Option(min=1, help="Versions per table whose row counts are shown (the newest).")
    ] = 20,
) -> None:
    """Write the platform report: per product its tables' freshness against SLA, rows per Delta
    version, quality pass rates, last runs and API traffic per key, as one HTML page that opens
    without a server or network."""
    from lakehouse_platform.catalog import load_catalog

    console = Console()
    settings = LakehouseSettings()
    try:
        catalog = load_catalog(lake_root=settings.lake_root)
        state = write_report(catalog, out, state_dir=settings.state_dir, versions=versions)
    except (LakehouseError, OSError) as exc:
        Console(stderr=True).print(f"[red]lakehouse report failed:[/] {exc}", soft_wrap=True)
        raise typer.Exit(1) from exc
    tables = [t for p in state.products for t in p.tables]
    states = {s: sum(1 for t in tables if t.state == s) for s in ("ok", "warn", "breach", "missing")}
    console.print(
        f"wrote {out}: {len(state.products)} products, {len(tables)} tables "
        f"({', '.join(f'{n} {s}' for s, n in states.items())})",
        soft_wrap=True,
    )
