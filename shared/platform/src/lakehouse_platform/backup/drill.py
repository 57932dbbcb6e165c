"""``lakehouse backup drill``: prove a backup restores, by restoring every table into scratch
space and comparing it with the source table at the same version, row for row.

The checksum is order-independent, so a restore that reads the same rows from other files (or
in another order) agrees: the sum, modulo 2**64, of a 64-bit BLAKE2b digest of each row's values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lakehouse_core.delta_reader import open_table
from lakehouse_core.errors import LakehouseError, TableError
from lakehouse_platform.backup.manifest import Manifest, TableBackup
from lakehouse_platform.backup.restore import restore_copy, target_location

_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class Fingerprint:
    rows: int
    checksum: str


def fingerprint(location: str, *, version: int) -> Fingerprint:
    """Row count and order-independent checksum of the table at ``location`` at ``version``."""
    from deltalake.exceptions import DeltaError
    from pyarrow import ArrowException

    try:
        dataset = open_table(location, version=version).to_pyarrow_dataset()
        rows, total = 0, 0
        for batch in dataset.to_batches():
            for row in batch.to_pylist():
                digest = hashlib.blake2b(repr(tuple(row.items())).encode(), digest_size=8).digest()
                total = (total + int.from_bytes(digest, "little")) & _MASK
                rows += 1
    except (DeltaError, ArrowException, OSError, ValueError) as exc:
        raise TableError(f"version {version} cannot be read: {exc}", table=location) from exc
    return Fingerprint(rows, f"{total:016x}")


@dataclass(frozen=True)
class DrillResult:
    """One table of the drill; ``problem`` says why it failed (None: restored and equal)."""

    name: str
    version: int
    source: Fingerprint | None
    restored: Fingerprint | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def drill_table(table: TableBackup, *, manifest: Manifest, backup_root: Path, scratch: Path) -> DrillResult:
    source: Fingerprint | None = None
    restored: Fingerprint | None = None
    try:
        live_id = str(open_table(table.location).metadata().id)
        if live_id != table.table_id:
            return DrillResult(
                table.name,
                table.version,
                None,
                None,
                f"source: {table.location} is another Delta table now (id {live_id}, the backup's "
                f"{table.table_id}); nothing to compare with",
            )
        source = fingerprint(table.location, version=table.version)
    except LakehouseError as exc:
        return DrillResult(table.name, table.version, None, None, f"source: {exc}")
    location = target_location(table, lake_root=manifest.lake_root, target_root=str(scratch))
    try:
        restore_copy(table, backup_root=backup_root, version=table.version, location=location)
        restored = fingerprint(location, version=table.version)
    except LakehouseError as exc:
        return DrillResult(table.name, table.version, source, None, f"restore: {exc}")
    problem = None
    if restored.rows != source.rows:
        problem = f"{restored.rows} rows restored, {source.rows} in the source"
    elif restored.checksum != source.checksum:
        problem = "same row count, different rows (checksums differ)"
    return DrillResult(table.name, table.version, source, restored, problem)


def run_drill(manifest: Manifest, *, backup_root: Path, scratch: Path) -> list[DrillResult]:
    """Restore every table of ``manifest`` under ``scratch`` and compare each with its source."""
    return [
        drill_table(table, manifest=manifest, backup_root=backup_root, scratch=scratch)
        for table in manifest.tables
    ]
