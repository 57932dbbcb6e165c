"""JVM-free reads of the Delta tables Spark writes, through delta-rs (``deltalake``) and pyarrow.

Services read gold tables here so that no JVM sits in a request path. :class:`DeltaReader`
keeps each table open, moves it to the newest version cheaply (incremental log replay, only when
the log changed), so a cache keyed on :meth:`DeltaReader.version` sees a new gold version at
once, and keeps a small table's current version in memory as Arrow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse_core.errors import TableError, TableNotFoundError
from lakehouse_core.tables import local_path

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

#: Tables whose data files hold at most this many bytes are served from memory.
DEFAULT_SNAPSHOT_MAX_BYTES = 64 * 1024 * 1024
#: Seconds between two listings of a table's log on object storage.
DEFAULT_REFRESH_INTERVAL = 1.0


def open_table(location: str, *, version: int | None = None) -> DeltaTable:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError as DeltaRsNotFound

    try:
        return DeltaTable(location, version=version)
    except DeltaRsNotFound as exc:
        raise TableNotFoundError(f"no Delta table at {location}", table=location) from exc


def read_arrow(
    location: str,
    *,
    columns: Sequence[str] | None = None,
    filter: pc.Expression | None = None,  # noqa: A002 - pyarrow's own name for it
    version: int | None = None,
) -> pa.Table:
    """Read a table (or one version of it) into Arrow, pushing the filter down to the files."""
    return _scan(open_table(location, version=version), location, columns, filter)


def _scan(
    table: DeltaTable,
    location: str,
    columns: Sequence[str] | None,
    filter: pc.Expression | None,  # noqa: A002
) -> pa.Table:
    return _dataset(table, location).to_table(columns=list(columns) if columns else None, filter=filter)


def _dataset(table: DeltaTable, location: str) -> ds.Dataset:
    from deltalake.exceptions import DeltaProtocolError

    try:
        return table.to_pyarrow_dataset()
    except DeltaProtocolError as exc:
        raise TableError(
            "table uses a feature the pyarrow reader refuses (deletion vectors or column "
            "mapping); keep them off on served tables",
            table=location,
        ) from exc


class DeltaReader:
    """A long-lived, thread-safe handle on one table for a serving process.

    A committed version never changes, so what is read for it is kept until the next commit:

    - the newest version is looked up without reading the log when nothing was committed since
      the last look (on a local filesystem a commit always changes the ``_delta_log`` folder's
      modification time; on object storage the log is listed at most every
      ``refresh_interval`` seconds);
    - a table of at most ``snapshot_max_bytes`` of data files is read into memory once per
      version, and queries filter that Arrow table; a larger one is scanned from its files,
      through a dataset built once per version.
    """

    def __init__(
        self,
        location: str,
        *,
        snapshot_max_bytes: int = DEFAULT_SNAPSHOT_MAX_BYTES,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
    ) -> None:
        self.location = location
        self.snapshot_max_bytes = snapshot_max_bytes
        self.refresh_interval = refresh_interval
        self._table: DeltaTable | None = None
        self._log_folder = _local_log_folder(location)
        self._log_stamp: int | None = None
        self._looked_at = 0.0
        self._version = -1
        self._data: tuple[int, pa.Table | None, ds.Dataset | None] | None = None
        self._lock = threading.Lock()

    def _log_changed(self) -> bool:
        """Whether a commit may have landed since the last refresh (and remember this look)."""
        if self._log_folder is None:
            now = time.monotonic()
            if now - self._looked_at < self.refresh_interval:
                return False
            self._looked_at = now
            return True
        try:
            stamp = self._log_folder.stat().st_mtime_ns
        except OSError:
            stamp = None
        changed = stamp is None or stamp != self._log_stamp
        self._log_stamp = stamp
        return changed

    def _refreshed(self) -> DeltaTable:
        with self._lock:
            if self._table is None:
                self._log_changed()
                self._table = open_table(self.location)
            elif self._log_changed():
                self._table.update_incremental()
            self._version = int(self._table.version())
            return self._table

    def version(self) -> int:
        """The table's newest committed version."""
        self._refreshed()
        return self._version

    def read(
        self,
        *,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,  # noqa: A002
    ) -> pa.Table:
        """The rows of the newest version that match ``filter``, with ``columns`` (all by default)."""
        table = self._refreshed()
        with self._lock:
            version = self._version
            if self._data is None or self._data[0] != version:
                self._data = (version, *_load(table, self.location, self.snapshot_max_bytes))
            _, snapshot, dataset = self._data
        selected = list(columns) if columns else None
        if snapshot is None:
            assert dataset is not None
            return dataset.to_table(columns=selected, filter=filter)
        rows = snapshot if filter is None else snapshot.filter(filter)
        return rows.select(selected) if selected else rows


def _local_log_folder(location: str) -> Path | None:
    """The ``_delta_log`` folder of a table on the local filesystem; None for object storage."""
    path = local_path(location)
    return None if path is None else Path(path) / "_delta_log"


def _load(
    table: DeltaTable, location: str, snapshot_max_bytes: int
) -> tuple[pa.Table | None, ds.Dataset | None]:
    """The whole version in memory when its files hold at most ``snapshot_max_bytes``, else the
    dataset to scan."""
    dataset = _dataset(table, location)
    files = table.get_add_actions(flatten=True)
    size = sum(files.column("size_bytes").to_pylist()) if files.num_rows else 0
    if size <= snapshot_max_bytes:
        return dataset.to_table(), None
    return None, dataset
