"""``lakehouse backup restore``: a table, or the whole lake, back at a version or a point in time.

Into a new lake root (``--to``) each table's files are copied from the backup up to the chosen
version, so the copy's newest version is the chosen one. In place, the live table gets a new
commit whose contents are the chosen version's (delta-rs ``DeltaTable.restore``), after the
backup has put back any file of that version the live table lost: history stays, nothing is
overwritten, and a reader or stream never sees a version number reused.

Every restore writes ``<lake root>/_platform/restores/<restore id>.json`` naming the tables and
versions it brought back: what was erased since the backup is in them again until the completed
erasures are applied to those tables once more.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from lakehouse_core.delta_reader import open_table
from lakehouse_core.errors import LakehouseError, TableNotFoundError
from lakehouse_platform.backup.create import copy_file
from lakehouse_platform.backup.log import (
    LOG_DIR,
    commit_name,
    commit_time,
    files_added,
    is_copied,
    log_version,
    restorable,
)
from lakehouse_platform.backup.manifest import BackupError, Manifest, TableBackup, write_json

RESTORES = "_platform/restores"


class NoVersionYetError(BackupError):
    """The table had no version at the point in time asked for (it was created after it)."""


@dataclass(frozen=True)
class RestoredTable:
    """``version`` of the backup is what the table now reads; in place that is a new commit,
    ``live_version``, with the same contents."""

    name: str
    location: str
    version: int
    live_version: int
    files_copied: int


@dataclass(frozen=True)
class Restore:
    restore_id: str
    backup_id: str
    restored_at: str
    lake_root: str
    in_place: bool
    tables: tuple[RestoredTable, ...]
    marker: str
    failed: str | None = None
    not_yet: tuple[str, ...] = ()
    """Tables the point in time came before (created later): not restored."""

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "erasures_reapplied": False,
            "note": "the tables hold what they held at the backup's versions, people erased since "
            "included; apply the completed erasures to them again before they are read",
        }


def version_at(table: TableBackup, *, backup_root: Path, as_of: datetime) -> int:
    """The newest version of the backup committed at or before ``as_of``."""
    store = backup_root / table.store
    stamped = [
        (v, commit_time(store / commit_name(v)))
        for f in table.files
        if (v := log_version(f)) is not None and f == commit_name(v)
    ]
    before = [v for v, at in stamped if at <= as_of]
    if not before:
        first = min(at for _, at in stamped)
        raise NoVersionYetError(
            f"{table.name}: backup {table.store} holds no version before {as_of} (first {first})"
        )
    return max(before)


def _chosen(table: TableBackup, *, backup_root: Path, version: int | None, as_of: datetime | None) -> int:
    chosen = version_at(table, backup_root=backup_root, as_of=as_of) if as_of else version
    chosen = table.version if chosen is None else chosen
    if chosen > table.version or chosen < 0:
        raise BackupError(f"{table.name}: the backup holds versions up to {table.version}, not {chosen}")
    if not restorable(set(table.files), chosen):
        raise BackupError(
            f"{table.name}: the backup lacks the log of version {chosen} (cleaned up before the first backup)"
        )
    return chosen


def files_for(table: TableBackup, *, backup_root: Path, version: int) -> dict[str, int]:
    """The backup's files of ``table`` that its history up to ``version`` needs: the log up to
    it, and every data file but those later commits added."""
    store = backup_root / table.store
    later: set[str] = set()
    for v in range(version + 1, table.version + 1):
        if commit_name(v) in table.files:
            later |= files_added(store / commit_name(v))
    return {f: size for f, size in table.files.items() if f not in later and is_copied(f, up_to=version)}


def _copy_back(table: TableBackup, files: dict[str, int], *, backup_root: Path, target: Path) -> int:
    """Copy ``files`` of the backup into ``target``, each checked against the manifest's size;
    files already at ``target`` with that size stay, with another size the restore stops."""
    store = backup_root / table.store
    copied = 0
    for relative, size in sorted(files.items()):
        source, destination = store / relative, target / relative
        if not source.is_file():
            raise BackupError(f"{table.name}: backup file {source} is missing")
        if source.stat().st_size != size:
            raise BackupError(
                f"{table.name}: backup file {source} has {source.stat().st_size} bytes, the manifest {size}"
            )
        if destination.exists():
            if destination.stat().st_size != size:
                raise BackupError(f"{table.name}: {destination} exists with another content; not overwritten")
            continue
        copy_file(source, destination)
        copied += 1
    return copied


def target_location(table: TableBackup, *, lake_root: str, target_root: str) -> str:
    """Where ``table`` goes in a lake rooted at ``target_root``: the same place relative to the
    root as in the backed-up lake, so the catalog finds it with ``LAKEHOUSE_LAKE_ROOT`` set there."""
    location, root = PurePosixPath(table.location), PurePosixPath(lake_root)
    relative = location.relative_to(root) if location.is_relative_to(root) else PurePosixPath(table.name)
    return str(Path(target_root) / relative)


def restore_copy(table: TableBackup, *, backup_root: Path, version: int, location: str) -> RestoredTable:
    """The backup's ``table`` at ``version`` as a new table at ``location``."""
    target = Path(location)
    if (target / LOG_DIR).is_dir() and any((target / LOG_DIR).iterdir()):
        raise BackupError(f"{table.name}: a Delta table exists at {location}; restore into an empty place")
    files = files_for(table, backup_root=backup_root, version=version)
    copied = _copy_back(table, files, backup_root=backup_root, target=target)
    restored = int(open_table(location).version())
    if restored != version:
        raise BackupError(f"{table.name}: the copy at {location} reads version {restored}, not {version}")
    return RestoredTable(table.name, location, version, restored, copied)


def restore_in_place(table: TableBackup, *, backup_root: Path, version: int) -> RestoredTable:
    """The live table at ``table.location`` back at the backup's ``version``, as a new commit."""
    try:
        live = open_table(table.location)
    except TableNotFoundError:
        return restore_copy(table, backup_root=backup_root, version=version, location=table.location)
    if str(live.metadata().id) != table.table_id:
        raise BackupError(
            f"{table.name}: the table at {table.location} is another Delta table (id {live.metadata().id}, "
            f"the backup's {table.table_id}); restore it elsewhere with --to"
        )
    files = files_for(table, backup_root=backup_root, version=version)
    copied = _copy_back(table, files, backup_root=backup_root, target=Path(table.location))
    live = open_table(table.location)
    if int(live.version()) == version:
        return RestoredTable(table.name, table.location, version, version, copied)
    try:
        live.restore(version)
    except Exception as exc:
        raise BackupError(f"{table.name}: Delta restore to version {version} failed: {exc}") from exc
    return RestoredTable(
        table.name, table.location, version, int(open_table(table.location).version()), copied
    )


def _plan(
    manifest: Manifest, *, backup_root: Path, table: str | None, version: int | None, as_of: datetime | None
) -> tuple[list[tuple[TableBackup, int]], list[str]]:
    """Each table to restore with its version, and the tables ``as_of`` came before."""
    chosen_tables = (manifest.table(table),) if table else manifest.tables
    plan: list[tuple[TableBackup, int]] = []
    not_yet: list[str] = []
    for backed_up in chosen_tables:
        try:
            plan.append(
                (backed_up, _chosen(backed_up, backup_root=backup_root, version=version, as_of=as_of))
            )
        except NoVersionYetError:
            if table is not None:
                raise
            not_yet.append(backed_up.name)
    if not plan:
        raise BackupError(f"backup {manifest.backup_id} holds no table at {as_of}")
    return plan, not_yet


def restore_backup(
    manifest: Manifest,
    *,
    backup_root: Path,
    table: str | None = None,
    version: int | None = None,
    as_of: datetime | None = None,
    target_root: str | None = None,
    in_place: bool = False,
) -> Restore:
    """Restore ``table`` (every table of the backup when None) at ``version`` or the newest
    version at ``as_of`` (default the backup's), into the lake at ``target_root`` or in place."""
    if in_place == (target_root is not None):
        raise BackupError("say where to restore: --to <new lake root>, or --in-place over the live tables")
    if version is not None and (table is None or as_of is not None):
        raise BackupError("--version needs --table and excludes --as-of (versions differ between tables)")
    plan, not_yet = _plan(manifest, backup_root=backup_root, table=table, version=version, as_of=as_of)
    lake_root = manifest.lake_root if in_place else str(target_root)
    restored: list[RestoredTable] = []
    failed: BackupError | None = None
    for backed_up, chosen in plan:
        try:
            if in_place:
                restored.append(restore_in_place(backed_up, backup_root=backup_root, version=chosen))
            else:
                location = target_location(backed_up, lake_root=manifest.lake_root, target_root=lake_root)
                restored.append(
                    restore_copy(backed_up, backup_root=backup_root, version=chosen, location=location)
                )
        except BackupError as exc:
            failed = exc
        except LakehouseError as exc:
            failed = BackupError(f"{backed_up.name}: {exc}")
            failed.__cause__ = exc
        if failed is not None:
            break
    done = _record(manifest, restored, lake_root=lake_root, in_place=in_place, failed=failed, not_yet=not_yet)
    if failed is not None:
        raise BackupError(
            f"{failed} (restored before it: {len(restored)} tables, listed in {done.marker})"
        ) from failed
    return done


def _record(
    manifest: Manifest,
    restored: list[RestoredTable],
    *,
    lake_root: str,
    in_place: bool,
    failed: BackupError | None,
    not_yet: list[str],
) -> Restore:
    """Write the restore's marker, also when it stopped part way (the tables before the failure
    were restored all the same)."""
    now = datetime.now(tz=UTC)
    restore_id = f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    marker = Path(lake_root) / RESTORES / f"{restore_id}.json"
    done = Restore(
        restore_id=restore_id,
        backup_id=manifest.backup_id,
        restored_at=now.isoformat(),
        lake_root=lake_root,
        in_place=in_place,
        tables=tuple(restored),
        marker=str(marker),
        failed=str(failed) if failed else None,
        not_yet=tuple(not_yet),
    )
    if restored or failed is None:
        write_json(marker, done.to_json())
    return done
