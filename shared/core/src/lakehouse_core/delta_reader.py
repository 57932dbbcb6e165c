"""JVM-free reads of the Delta tables Spark writes, through delta-rs (``deltalake``) and pyarrow.

Services read gold tables here so that no JVM sits in a request path. :class:`DeltaReader`
keeps each table open and moves it to the newest version cheaply (incremental log replay), so a
cache keyed on :meth:`DeltaReader.version` sees a new gold version at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lakehouse_core.errors import TableError, TableNotFoundError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable


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
    from deltalake.exceptions import DeltaProtocolError

    try:
        dataset = table.to_pyarrow_dataset()
    except DeltaProtocolError as exc:
        raise TableError(
            "table uses a feature the pyarrow reader refuses (deletion vectors or column "
            "mapping); keep them off on served tables",
            table=location,
        ) from exc
    return dataset.to_table(columns=list(columns) if columns else None, filter=filter)


class DeltaReader:
    """A long-lived, thread-safe handle on one table for a serving process."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._table: DeltaTable | None = None
        self._lock = threading.Lock()

    def _refreshed(self) -> DeltaTable:
        with self._lock:
            if self._table is None:
                self._table = open_table(self.location)
            else:
                self._table.update_incremental()
            return self._table

    def version(self) -> int:
        """The table's newest committed version."""
        return int(self._refreshed().version())

    def read(
        self,
        *,
        columns: Sequence[str] | None = None,
        filter: pc.Expression | None = None,  # noqa: A002
    ) -> pa.Table:
        return _scan(self._refreshed(), self.location, columns, filter)
