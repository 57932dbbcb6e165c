"""Freshness headers: which Delta versions an answer read, how old they are, and their SLA.

One value per table read, comma-separated, in the order of ``X-Data-Table``; the age is the
time since the commit of the version read (``unknown`` when its log cannot be read).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime

from deltalake.exceptions import DeltaError

from lakehouse_core.errors import LakehouseError
from lakehouse_core.serving.tables import TableRead
from lakehouse_platform.catalog import Catalog

TABLE_HEADER = "X-Data-Table"
VERSION_HEADER = "X-Data-Version"
AGE_HEADER = "X-Data-Age-Seconds"
SLA_HEADER = "X-Data-Freshness-SLA-Minutes"

log = logging.getLogger(__name__)


class CommitTimes:
    """The commit time of each (table, version) asked for, read once: a version never changes."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()

    def __call__(self, location: str, version: int) -> float:
        with self._lock:
            known = self._known.get((location, version))
        if known is not None:
            return known
        from lakehouse_core.delta_reader import open_table

        history = open_table(location, version=version).history(1)
        stamp = float(history[0]["timestamp"]) / 1000.0
        with self._lock:
            self._known[(location, version)] = stamp
        return stamp


def freshness_headers(
    reads: Sequence[TableRead], catalog: Catalog, commit_times: CommitTimes, now: datetime
) -> dict[str, str]:
    if not reads:
        return {}
    ages, slas = [], []
    for read in reads:
        try:
            committed = commit_times(read.location, read.version)
        except (LakehouseError, DeltaError):
            log.warning("no commit time of %s version %s", read.name, read.version, exc_info=True)
            ages.append("unknown")
        else:
            ages.append(str(max(0, int(now.timestamp() - committed))))
        entry = catalog.entries.get(read.name)
        freshness = entry.spec.freshness if entry is not None else None
        slas.append(str(freshness.breach_minutes) if freshness is not None else "none")
    return {
        TABLE_HEADER: ",".join(r.name for r in reads),
        VERSION_HEADER: ",".join(str(r.version) for r in reads),
        AGE_HEADER: ",".join(ages),
        SLA_HEADER: ",".join(slas),
    }
