"""A backup's manifest: what it holds of each table, and the catalog as it was, stored as JSON
under ``<backup root>/manifests/<backup id>.json`` (written last, so a manifest means the copy
finished). The tables' files live under ``<backup root>/tables/<table>/<Delta table id>/``,
shared by every backup of that table."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lakehouse_core.errors import LakehouseError

MANIFESTS = "manifests"
TABLES = "tables"


class BackupError(LakehouseError):
    """A backup cannot be made, found or restored; the message names the backup and table."""


@dataclass(frozen=True)
class TableBackup:
    """One table in a backup: its Delta ``version`` when copied and every file that version's
    history needs (relative path → size); ``copied`` files were new, ``skipped`` ones were in
    the backup already, ``recopied`` ones had another size there (a file still being written
    when an earlier backup ran), ``missing`` ones vanished before they could be copied (a vacuum
    under way)."""

    name: str
    location: str
    table_id: str
    store: str
    version: int
    committed_at: str
    files: dict[str, int]
    copied: int
    skipped: int
    recopied: int
    bytes_copied: int
    missing: tuple[str, ...] = ()

    @property
    def bytes_total(self) -> int:
        return sum(self.files.values())


@dataclass(frozen=True)
class Manifest:
    backup_id: str
    created_at: str
    lake_root: str
    tables: tuple[TableBackup, ...]
    not_built: tuple[str, ...] = ()
    catalog: tuple[dict[str, Any], ...] = field(default=())

    def table(self, name: str) -> TableBackup:
        for table in self.tables:
            if table.name == name:
                return table
        held = ", ".join(t.name for t in self.tables) or "none"
        raise BackupError(f"backup {self.backup_id} holds no table {name!r} (it holds: {held})")

    def to_json(self) -> dict[str, Any]:
        tables = [{**asdict(t), "bytes_total": t.bytes_total} for t in self.tables]
        return {**asdict(self), "tables": tables}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        tables = tuple(
            TableBackup(
                **{
                    **{k: v for k, v in t.items() if k != "bytes_total"},
                    "missing": tuple(t.get("missing", ())),
                }
            )
            for t in data["tables"]
        )
        return cls(
            backup_id=data["backup_id"],
            created_at=data["created_at"],
            lake_root=data["lake_root"],
            tables=tables,
            not_built=tuple(data.get("not_built", ())),
            catalog=tuple(data.get("catalog", ())),
        )


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    temporary.replace(path)


def write_manifest(backup_root: Path, manifest: Manifest) -> Path:
    path = backup_root / MANIFESTS / f"{manifest.backup_id}.json"
    write_json(path, manifest.to_json())
    return path


def list_manifests(backup_root: Path) -> list[Manifest]:
    """Every backup under ``backup_root``, newest first."""
    folder = backup_root / MANIFESTS
    if not folder.is_dir():
        return []
    found = [Manifest.from_json(json.loads(p.read_text(encoding="utf-8"))) for p in folder.glob("*.json")]
    return sorted(found, key=lambda m: (m.created_at, m.backup_id), reverse=True)


def read_manifest(backup_root: Path, backup_id: str) -> Manifest:
    path = backup_root / MANIFESTS / f"{backup_id}.json"
    if "/" in backup_id or not path.is_file():
        known = [m.backup_id for m in list_manifests(backup_root)[:5]]
        hint = f"; newest: {', '.join(known)}" if known else "; there are none (`lakehouse backup create`)"
        raise BackupError(f"no backup {backup_id!r} in {backup_root}{hint}")
    return Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
