"""Backups of real Delta tables (written with delta-rs on local disk): incremental copies,
restores to a version or a point in time (new place and in place), drills that catch a damaged
backup, and the ``lakehouse backup`` commands."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from pydantic import BaseModel
from typer.testing import CliRunner

from lakehouse_core.contracts import spark_schema
from lakehouse_core.tables import Layer, TableSpec
from lakehouse_platform.backup.create import create_backup
from lakehouse_platform.backup.drill import fingerprint, run_drill
from lakehouse_platform.backup.manifest import BackupError, list_manifests
from lakehouse_platform.backup.restore import RESTORES, restore_backup
from lakehouse_platform.catalog import Catalog, build_catalog
from lakehouse_platform.cli import app
from lakehouse_testing.declarations import ToyDeclaration

pytestmark = pytest.mark.integration


class Visit(BaseModel):
    visitor_id: str
    day: str
    pages: int


def _spec(layer: Layer, name: str, partition_by: tuple[str, ...] = ()) -> TableSpec:
    return TableSpec(
        name=name,
        layer=layer,
        product="shop",
        schema=spark_schema(Visit),
        contract=Visit,
        partition_by=partition_by,
    )


VISITS = _spec(Layer.SILVER, "visits", ("day",))
DAILY = _spec(Layer.GOLD, "daily")
NEVER_BUILT = _spec(Layer.GOLD, "unbuilt")
SHOP = ToyDeclaration("shop", (VISITS, DAILY, NEVER_BUILT))


def rows(*numbers: int) -> pa.Table:
    return pa.Table.from_pylist(
        [{"visitor_id": f"v-{n}", "day": f"2026-03-0{1 + n % 2}", "pages": n} for n in numbers],
        schema=pa.schema([("visitor_id", pa.string()), ("day", pa.string()), ("pages", pa.int64())]),
    )


def write(catalog: Catalog, name: str, table: pa.Table, *, overwrite: bool = False) -> None:
    entry = catalog.get(name)
    partitions = list(entry.spec.partition_by) or None
    if overwrite:
        write_deltalake(entry.location, table, mode="overwrite", partition_by=partitions)
    else:
        write_deltalake(entry.location, table, mode="append", partition_by=partitions)


def read(location: str, version: int | None = None) -> list[int]:
    return sorted(DeltaTable(location, version=version).to_pyarrow_table()["pages"].to_pylist())


@pytest.fixture
def catalog(lake_root: str) -> Catalog:
    built = build_catalog([SHOP], lake_root=lake_root)
    write(built, "shop.silver.visits", rows(1, 2))
    write(built, "shop.gold.daily", rows(10))
    return built


def test_a_second_backup_copies_only_the_new_files(catalog: Catalog, lake_root: str, tmp_path: Path) -> None:
    backups = tmp_path / "backups"
    first = create_backup(catalog, backup_root=backups, lake_root=lake_root)
    visits = first.table("shop.silver.visits")
    assert visits.version == 0
    assert (visits.copied, visits.skipped) == (3, 0)  # one file per partition, commit 0
    assert first.not_built == ("shop.gold.unbuilt",)
    assert {e["name"] for e in first.catalog} == set(catalog.entries)

    write(catalog, "shop.silver.visits", rows(3))
    second = create_backup(catalog, backup_root=backups, lake_root=lake_root)
    visits = second.table("shop.silver.visits")
    assert visits.version == 1
    assert (visits.copied, visits.skipped, visits.recopied) == (2, 3, 0)  # the new file, commit 1
    assert visits.bytes_total == sum(visits.files.values()) > visits.bytes_copied > 0
    daily = second.table("shop.gold.daily")
    assert (daily.copied, daily.skipped, daily.bytes_copied) == (0, 2, 0)
    assert [m.backup_id for m in list_manifests(backups)] == [second.backup_id, first.backup_id]


def test_restore_brings_back_exactly_the_rows_of_the_chosen_version(
    catalog: Catalog, lake_root: str, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    first = create_backup(catalog, backup_root=backups, lake_root=lake_root)
    write(catalog, "shop.silver.visits", rows(3, 4))
    second = create_backup(catalog, backup_root=backups, lake_root=lake_root)

    old = restore_backup(
        second, backup_root=backups, table="shop.silver.visits", version=0, target_root=str(tmp_path / "v0")
    )
    (restored,) = old.tables
    assert restored.location == str(tmp_path / "v0" / "silver" / "shop" / "visits")
    assert DeltaTable(restored.location).version() == 0
    assert read(restored.location) == [1, 2]
    assert read(restored.location) == read(catalog.get("shop.silver.visits").location, version=0)
    unreferenced = {p.name for p in Path(restored.location).rglob("*.parquet")}
    assert len(unreferenced) == 2  # the files version 1 added are not copied

    committed = max(datetime.fromisoformat(t.committed_at) for t in first.tables)
    whole = restore_backup(
        second,
        backup_root=backups,
        as_of=committed + timedelta(milliseconds=1),
        target_root=str(tmp_path / "lake-then"),
    )
    assert {t.name: t.version for t in whole.tables} == {"shop.silver.visits": 0, "shop.gold.daily": 0}
    assert read(str(tmp_path / "lake-then" / "gold" / "shop" / "daily")) == [10]
    marker = json.loads(Path(whole.marker).read_text())
    assert Path(whole.marker).parent == tmp_path / "lake-then" / RESTORES
    assert marker["backup_id"] == second.backup_id
    assert marker["erasures_reapplied"] is False
    assert {t["name"]: t["version"] for t in marker["tables"]} == {
        "shop.silver.visits": 0,
        "shop.gold.daily": 0,
    }

    with pytest.raises(BackupError, match="a Delta table exists"):
        restore_backup(
            second, backup_root=backups, table="shop.silver.visits", target_root=str(tmp_path / "v0")
        )
    with pytest.raises(BackupError, match="--to <new lake root>, or --in-place"):
        restore_backup(second, backup_root=backups, table="shop.silver.visits")
    with pytest.raises(BackupError, match="holds versions up to 1, not 5"):
        restore_backup(
            second,
            backup_root=backups,
            table="shop.silver.visits",
            version=5,
            target_root=str(tmp_path / "x"),
        )


def test_restore_in_place_is_a_new_commit_and_puts_back_vacuumed_files(
    catalog: Catalog, lake_root: str, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    backup = create_backup(catalog, backup_root=backups, lake_root=lake_root)
    location = catalog.get("shop.gold.daily").location
    write(catalog, "shop.gold.daily", rows(20, 21), overwrite=True)
    DeltaTable(location).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)

    live = DeltaTable(location).version()  # the overwrite, and the vacuum's start and end commits
    (old_file,) = [f for f in backup.table("shop.gold.daily").files if f.endswith(".parquet")]
    assert not (Path(location) / old_file).exists()  # vacuumed

    done = restore_backup(backup, backup_root=backups, table="shop.gold.daily", in_place=True)
    (restored,) = done.tables
    assert (restored.version, restored.live_version, restored.files_copied) == (0, live + 1, 1)
    assert read(location) == [10]
    assert read(location, version=1) == [20, 21]  # the history stays
    assert Path(done.marker).parent == Path(lake_root) / RESTORES


def test_the_drill_passes_on_a_good_backup_and_catches_a_damaged_one(
    catalog: Catalog, lake_root: str, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    write(catalog, "shop.silver.visits", rows(3))
    backup = create_backup(catalog, backup_root=backups, lake_root=lake_root)
    good = run_drill(backup, backup_root=backups, scratch=tmp_path / "drill-1")
    assert [(r.name, r.ok) for r in good] == [("shop.gold.daily", True), ("shop.silver.visits", True)]
    visits = next(r for r in good if r.name == "shop.silver.visits")
    assert (
        visits.source == visits.restored == fingerprint(catalog.get("shop.silver.visits").location, version=1)
    )
    assert visits.source is not None
    assert visits.source.rows == 3

    daily = backup.table("shop.gold.daily")
    (data_file,) = (backups / daily.store).rglob("*.parquet")
    damaged = bytearray(data_file.read_bytes())
    damaged[4:-8] = bytes(len(damaged) - 12)
    data_file.write_bytes(bytes(damaged))
    corrupted = {r.name: r for r in run_drill(backup, backup_root=backups, scratch=tmp_path / "drill-2")}
    assert corrupted["shop.silver.visits"].ok
    assert not corrupted["shop.gold.daily"].ok
    assert corrupted["shop.gold.daily"].problem

    silver = backup.table("shop.silver.visits")
    next((backups / silver.store).rglob("*.parquet")).unlink()
    deleted = {r.name: r for r in run_drill(backup, backup_root=backups, scratch=tmp_path / "drill-3")}
    assert deleted["shop.silver.visits"].problem is not None
    assert "is missing" in deleted["shop.silver.visits"].problem


def test_the_backup_commands(
    catalog: Catalog, lake_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lakehouse_platform.catalog.discover_products", lambda: [SHOP])
    env = {
        "LAKEHOUSE_LAKE_ROOT": lake_root,
        "LAKEHOUSE_BACKUP_ROOT": str(tmp_path / "backups"),
        "COLUMNS": "200",
    }
    runner = CliRunner()
    created = runner.invoke(app, ["backup", "create", "--json"], env=env)
    assert created.exit_code == 0, created.output
    backup_id = json.loads(created.stdout)["backup_id"]
    write(catalog, "shop.silver.visits", rows(3))
    assert "shop.silver.visits" in runner.invoke(app, ["backup", "create"], env=env).stdout

    listed = runner.invoke(app, ["backup", "list", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [b["tables"]["shop.silver.visits"] for b in json.loads(listed.stdout)] == [1, 0]
    assert backup_id in runner.invoke(app, ["backup", "list"], env=env).stdout

    target = tmp_path / "restored"
    restored = runner.invoke(
        app,
        ["backup", "restore", "--backup", backup_id, "--table", "shop.silver.visits", "--to", str(target)],
        env=env,
    )
    assert restored.exit_code == 0, restored.output
    assert read(str(target / "silver" / "shop" / "visits")) == [1, 2]
    assert len(list((target / RESTORES).glob("*.json"))) == 1

    drilled = runner.invoke(app, ["backup", "drill", "--json"], env=env)
    assert drilled.exit_code == 0, drilled.output
    assert all(r["ok"] for r in json.loads(drilled.stdout))

    unknown = runner.invoke(
        app, ["backup", "restore", "--backup", "nope", "--to", str(tmp_path / "n")], env=env
    )
    assert unknown.exit_code == 1
    assert "no backup 'nope'" in unknown.stderr
    no_table = runner.invoke(
        app,
        [
            "backup",
            "restore",
            "--backup",
            backup_id,
            "--table",
            "shop.gold.nothing",
            "--to",
            str(tmp_path / "n"),
        ],
        env=env,
    )
    assert no_table.exit_code == 1
    assert "holds no table 'shop.gold.nothing'" in no_table.stderr
    assert runner.invoke(app, ["backup", "drill", "--backup", "nope"], env=env).exit_code == 1


def test_a_changed_commit_stops_the_backup_and_a_rebuilt_table_gets_its_own_folder(
    catalog: Catalog, lake_root: str, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    first = create_backup(catalog, backup_root=backups, lake_root=lake_root)
    daily = first.table("shop.gold.daily")
    commit = backups / daily.store / "_delta_log" / f"{0:020d}.json"
    commit.write_text(commit.read_text() + "\n")
    with pytest.raises(BackupError, match="a Delta commit never changes"):
        create_backup(catalog, backup_root=backups, lake_root=lake_root)

    shutil.rmtree(catalog.get("shop.gold.daily").location)
    write(catalog, "shop.gold.daily", rows(30))
    rebuilt = create_backup(catalog, backup_root=backups, lake_root=lake_root).table("shop.gold.daily")
    assert rebuilt.table_id != daily.table_id
    assert rebuilt.store != daily.store
    assert (rebuilt.version, rebuilt.copied, rebuilt.skipped) == (0, 2, 0)
    drilled = {r.name: r for r in run_drill(first, backup_root=backups, scratch=tmp_path / "drill")}
    assert "is another Delta table now" in str(drilled["shop.gold.daily"].problem)


def test_a_data_file_met_half_written_is_copied_again(
    catalog: Catalog, lake_root: str, tmp_path: Path
) -> None:
    backups = tmp_path / "backups"
    first = create_backup(catalog, backup_root=backups, lake_root=lake_root)
    daily = first.table("shop.gold.daily")
    (data_file,) = [f for f in daily.files if f.endswith(".parquet")]
    held = backups / daily.store / data_file
    held.write_bytes(held.read_bytes()[:100])

    again = create_backup(catalog, backup_root=backups, lake_root=lake_root).table("shop.gold.daily")
    assert (again.copied, again.skipped, again.recopied) == (0, 1, 1)
    assert held.stat().st_size == daily.files[data_file]
