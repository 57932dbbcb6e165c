"""Tables a service reads, and what a request gets when one does not exist yet.

A gold table appears with the first successful run of the job that writes it. Until then a
request that needs it answers ``503 Service Unavailable`` with a message saying so (and a
``Retry-After``), never a 500: the service is healthy, the data is not there yet.

Inside :func:`recording_reads`, every :meth:`ServedTable.query` notes the table and the version it
read, so a middleware can tell the client which data an answer came from.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lakehouse_core.delta_reader import DeltaReader
from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.health import HealthCheck, delta_table_check
from lakehouse_core.serving.cache import QueryCache

T = TypeVar("T")

RETRY_AFTER_SECONDS = 60


@dataclass(frozen=True)
class TableRead:
    name: str
    location: str
    version: int
    #: The served table that was read, to ask for its current version again later.
    table: ServedTable | None = field(default=None, compare=False, repr=False)


_reads: ContextVar[list[TableRead] | None] = ContextVar("table_reads", default=None)


@contextmanager
def recording_reads() -> Iterator[list[TableRead]]:
    """The tables and versions the queries of the block read, in order, each once. The list is
    shared, not copied, with the contexts the block starts (a route run in a worker thread)."""
    reads: list[TableRead] = []
    token = _reads.set(reads)
    try:
        yield reads
    finally:
        _reads.reset(token)


def note_read(read: TableRead) -> None:
    """Record ``read`` in the enclosing :func:`recording_reads` block, if any (a read answered
    from a cache of responses is still a read of that version)."""
    _note(read)


def _note(read: TableRead) -> None:
    reads = _reads.get()
    if reads is not None and read not in reads:
        reads.append(read)


class TableNotBuiltError(TableNotFoundError):
    """A served table does not exist yet: the pipeline has not produced it."""

    def __init__(self, table: str) -> None:
        super().__init__("the pipeline has not produced this table yet", table=table)


class ServedTable:
    """One table a service reads: a long-lived :class:`DeltaReader` and a shared cache.

    ``name`` is what users see in messages (e.g. the table's qualified name); ``location`` is
    where it lives.
    """

    def __init__(self, name: str, location: str, cache: QueryCache) -> None:
        self.name = name
        self.location = location
        self.reader = DeltaReader(location)
        self._cache = cache

    def version(self) -> int:
        """The newest committed version; :class:`TableNotBuiltError` while the table is absent."""
        try:
            return self.reader.version()
        except TableNotFoundError as exc:
            raise TableNotBuiltError(self.name) from exc

    def query(self, key: Hashable, compute: Callable[[DeltaReader], T]) -> T:
        """``compute(reader)``, cached under the table's current version and ``key``.

        ``key`` must identify the query completely (its name and every parameter). A commit that
        lands between the version lookup and the scan is cached under the older version; the
        next request sees the newer version and recomputes.
        """
        version = self.version()
        _note(TableRead(self.name, self.location, version, self))
        return self._cache.get_or_compute(self.location, version, key, lambda: compute(self.reader))

    def health_check(self) -> HealthCheck:
        return delta_table_check(self.name, self.location)


def table_not_built_response(table: str) -> JSONResponse:
    return JSONResponse(
        {
            "detail": f"table {table} does not exist yet: the pipeline has not produced it. "
            "It appears after the first successful run of the job that writes it."
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _table_not_found(request: Request, exc: Exception) -> JSONResponse:
    return table_not_built_response(exc.table if isinstance(exc, TableNotFoundError) else "requested")


def install_table_errors(app: FastAPI) -> None:
    """Answer 503 (not 500) whenever a request reads a table that does not exist yet."""
    app.add_exception_handler(TableNotFoundError, _table_not_found)
