"""``lakehouse backup``: create, list, restore and drill backups of the lake's tables."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lakehouse_core.errors import LakehouseError
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.backup.create import create_backup
from lakehouse_platform.backup.drill import run_drill
from lakehouse_platform.backup.manifest import BackupError, Manifest, list_manifests, read_manifest
from lakehouse_platform.backup.restore import restore_backup

backup_app = typer.Typer(
    help="Backups of every catalogued table (only new files are copied), point-in-time restores "
    "and restore drills.",
    no_args_is_help=True,
)

console = Console()
errors = Console(stderr=True)

BackupsOption = Annotated[
    Path | None, typer.Option("--backups", help="The backup root (default: LAKEHOUSE_BACKUP_ROOT).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _root(backups: Path | None) -> Path:
    return backups or LakehouseSettings().backup_root


def _fail(exc: LakehouseError) -> typer.Exit:
    errors.print(f"[red]backup:[/] {escape(str(exc))}", soft_wrap=True)
    return typer.Exit(1)


def _latest(root: Path, backup_id: str | None) -> Manifest:
    if backup_id is not None:
        return read_manifest(root, backup_id)
    found = list_manifests(root)
    if not found:
        raise BackupError(f"no backup in {root} (`lakehouse backup create`)")
    return found[0]


@backup_app.command("create")
def backup_create(
    to: Annotated[Path | None, typer.Option(help="The backup root (default: LAKEHOUSE_BACKUP_ROOT).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Copy every catalogued table's files the backup lacks, and record the backup's manifest."""
    from lakehouse_platform.catalog import load_catalog

    settings = LakehouseSettings()
    try:
        manifest = create_backup(
            load_catalog(lake_root=settings.lake_root), backup_root=_root(to), lake_root=settings.lake_root
        )
    except LakehouseError as exc:
        raise _fail(exc) from exc
    if as_json:
        print(json.dumps({k: v for k, v in manifest.to_json().items() if k != "catalog"}))
        return
    table = Table(title=f"backup {manifest.backup_id}", title_justify="left")
    for column in ("table", "version", "copied", "skipped", "recopied", "missing", "bytes copied"):
        table.add_column(column, justify="left" if column == "table" else "right")
    for t in manifest.tables:
        table.add_row(
            t.name,
            str(t.version),
            str(t.copied),
            str(t.skipped),
            str(t.recopied),
            str(len(t.missing)),
            str(t.bytes_copied),
        )
    console.print(table)
    if manifest.not_built:
        console.print(f"not built yet, nothing to copy: {len(manifest.not_built)} tables")
    for t in manifest.tables:
        if t.missing:
            errors.print(f"[yellow]{t.name}: {len(t.missing)} files vanished while copying (a vacuum?)[/]")


@backup_app.command("list")
def backup_list(backups: BackupsOption = None, as_json: JsonOption = False) -> None:
    """The backups, newest first."""
    found = list_manifests(_root(backups))
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "backup_id": m.backup_id,
                        "created_at": m.created_at,
                        "lake_root": m.lake_root,
                        "tables": {t.name: t.version for t in m.tables},
                        "bytes_copied": sum(t.bytes_copied for t in m.tables),
                        "bytes_total": sum(t.bytes_total for t in m.tables),
                    }
                    for m in found
                ]
            )
        )
        return
    table = Table(title=f"{len(found)} backups in {_root(backups)}", title_justify="left")
    for column in ("backup", "created at", "tables", "files copied", "bytes copied", "bytes held"):
        table.add_column(column, justify="left" if column in ("backup", "created at") else "right")
    for m in found:
        table.add_row(
            m.backup_id,
            m.created_at,
            str(len(m.tables)),
            str(sum(t.copied + t.recopied for t in m.tables)),
            str(sum(t.bytes_copied for t in m.tables)),
            str(sum(t.bytes_total for t in m.tables)),
        )
    console.print(table)


@backup_app.command("restore")
def backup_restore(
    *,
    backup: Annotated[str, typer.Option(help="The backup's id (`lakehouse backup list`).")],
    table: Annotated[str | None, typer.Option(help="Only this table (qualified name).")] = None,
    as_of: Annotated[
        datetime | None, typer.Option(help="The newest version committed at or before this time (UTC).")
    ] = None,
    version: Annotated[int | None, typer.Option(min=0, help="This Delta version (with --table).")] = None,
    to: Annotated[Path | None, typer.Option(help="A new lake root to restore into.")] = None,
    in_place: Annotated[
        bool, typer.Option("--in-place", help="Over the live tables, as a new Delta commit of each.")
    ] = False,
    backups: BackupsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restore one table or every table of a backup to a version or a point in time, into a new
    lake root or in place; then apply the completed erasures again (the restore's marker lists
    the tables)."""
    from datetime import UTC

    root = _root(backups)
    moment = as_of.replace(tzinfo=UTC) if as_of and as_of.tzinfo is None else as_of
    try:
        done = restore_backup(
            read_manifest(root, backup),
            backup_root=root,
            table=table,
            version=version,
            as_of=moment,
            target_root=str(to) if to else None,
            in_place=in_place,
        )
    except LakehouseError as exc:
        raise _fail(exc) from exc
    if as_json:
        print(json.dumps(done.to_json()))
        return
    shown = Table(title=f"restore {done.restore_id} of backup {done.backup_id}", title_justify="left")
    for column in ("table", "version", "now at version", "files copied", "location"):
        shown.add_column(column, overflow="fold")
    for t in done.tables:
        shown.add_row(t.name, str(t.version), str(t.live_version), str(t.files_copied), t.location)
    console.print(shown)
    if done.not_yet:
        console.print(f"created after {moment}, not restored: {', '.join(done.not_yet)}", soft_wrap=True)
    console.print(f"recorded in {done.marker}", soft_wrap=True)
    errors.print(
        "[yellow]apply the completed erasures to the restored tables before they are read[/]", soft_wrap=True
    )


@backup_app.command("drill")
def backup_drill(
    backup: Annotated[str | None, typer.Option(help="The backup's id (default: the newest).")] = None,
    scratch: Annotated[
        Path | None, typer.Option(help="Where to restore (default: a temporary folder, removed after).")
    ] = None,
    backups: BackupsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restore every table of a backup into scratch space and compare row counts and checksums
    with the source at the same version. Exit code 1 on any difference."""
    root = _root(backups)
    try:
        manifest = _latest(root, backup)
        if scratch is None:
            with tempfile.TemporaryDirectory(prefix="lakehouse-drill-") as folder:
                results = run_drill(manifest, backup_root=root, scratch=Path(folder))
        else:
            results = run_drill(manifest, backup_root=root, scratch=scratch)
    except LakehouseError as exc:
        raise _fail(exc) from exc
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "table": r.name,
                        "version": r.version,
                        "ok": r.ok,
                        "source_rows": r.source.rows if r.source else None,
                        "restored_rows": r.restored.rows if r.restored else None,
                        "source_checksum": r.source.checksum if r.source else None,
                        "restored_checksum": r.restored.checksum if r.restored else None,
                        "problem": r.problem,
                    }
                    for r in results
                ]
            )
        )
    else:
        shown = Table(title=f"drill of backup {manifest.backup_id}", title_justify="left")
        for column in ("table", "version", "rows", "checksum", "result"):
            shown.add_column(column, overflow="fold")
        for r in results:
            shown.add_row(
                r.name,
                str(r.version),
                str(r.source.rows) if r.source else "-",
                r.source.checksum if r.source else "-",
                "[green]ok[/]" if r.ok else f"[red]{escape(str(r.problem))}[/]",
            )
        console.print(shown)
    if not all(r.ok for r in results):
        raise typer.Exit(1)
