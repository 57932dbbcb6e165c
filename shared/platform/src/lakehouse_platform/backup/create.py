"""``lakehouse backup create``: copy every catalogued table's new files to the backup root."""

from __future__ import annotations

import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse_core.delta_reader import open_table
from lakehouse_core.errors import TableNotFoundError
from lakehouse_platform.backup.log import commit_name, commit_time, is_commit, is_copied, walk
from lakehouse_platform.backup.manifest import TABLES, BackupError, Manifest, TableBackup, write_manifest

if TYPE_CHECKING:
    from lakehouse_platform.catalog import Catalog, CatalogEntry

CATALOG_FIELDS = (
    "name",
    "product",
    "layer",
    "location",
    "schema_version",
    "schema_history",
    "contract",
    "subject_columns",
)


def new_backup_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def copy_file(source: Path, target: Path) -> None:
    """Copy with the modification time kept (Delta's time travel by timestamp may read it),
    through a temporary name, so an interrupted copy leaves no partial file behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    shutil.copy2(source, temporary)
    temporary.replace(target)


def backup_table(entry: CatalogEntry, *, backup_root: Path) -> TableBackup | None:
    """Copy the files of ``entry``'s table at its current version that the backup lacks; None
    when the table is not built yet."""
    try:
        table = open_table(entry.location)
    except TableNotFoundError:
        return None
    version = int(table.version())
    table_id = str(table.metadata().id)
    store = f"{TABLES}/{entry.qualified_name}/{table_id}"
    source_root, store_root = Path(entry.location), backup_root / store
    present = walk(source_root)
    held = walk(store_root) if store_root.is_dir() else {}
    files: dict[str, int] = {}
    copied = skipped = recopied = bytes_copied = 0
    missing: list[str] = []
    for relative, size in sorted(present.items()):
        if not is_copied(relative, up_to=version):
            continue
        if held.get(relative) == size:
            skipped += 1
            files[relative] = size
            continue
        if relative in held and is_commit(relative):
            raise BackupError(
                f"{entry.qualified_name}: commit {relative} has {size} bytes, the backup's copy "
                f"{held[relative]}: a Delta commit never changes, so the table or the backup at "
                f"{store_root} was altered; it is not overwritten"
            )
        try:
            copy_file(source_root / relative, store_root / relative)
        except FileNotFoundError:
            missing.append(relative)
            continue
        recopied += relative in held
        copied += relative not in held
        bytes_copied += size
        files[relative] = size
    if commit_name(version) not in files:
        raise BackupError(f"{entry.qualified_name}: commit of version {version} could not be copied")
    return TableBackup(
        name=entry.qualified_name,
        location=entry.location,
        table_id=table_id,
        store=store,
        version=version,
        committed_at=commit_time(store_root / commit_name(version)).isoformat(),
        files=files,
        copied=copied,
        skipped=skipped,
        recopied=recopied,
        bytes_copied=bytes_copied,
        missing=tuple(missing),
    )


def create_backup(
    catalog: Catalog, *, backup_root: Path, lake_root: str, now: datetime | None = None
) -> Manifest:
    """Back up every built table of ``catalog`` and the catalog's entries; returns the manifest,
    written under ``backup_root`` once every table is copied."""
    started = now or datetime.now(tz=UTC)
    tables: list[TableBackup] = []
    not_built: list[str] = []
    for name in sorted(catalog.entries):
        done = backup_table(catalog.entries[name], backup_root=backup_root)
        if done is None:
            not_built.append(name)
        else:
            tables.append(done)
    manifest = Manifest(
        backup_id=new_backup_id(started),
        created_at=started.isoformat(),
        lake_root=lake_root,
        tables=tuple(tables),
        not_built=tuple(not_built),
        catalog=tuple(
            {k: v for k, v in entry.to_json().items() if k in CATALOG_FIELDS}
            for entry in catalog.entries.values()
        ),
    )
    write_manifest(backup_root, manifest)
    return manifest
