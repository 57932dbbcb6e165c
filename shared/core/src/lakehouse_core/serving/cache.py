"""An in-process cache of query results whose key includes the Delta table version.

A Delta version is immutable, so an entry can never go stale: a new commit changes the version
the next request looks up, and results of older versions age out of the LRU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

T = TypeVar("T")

DEFAULT_MAX_ENTRIES = 256


class QueryCache:
    """Bounded (least recently used first out), thread-safe map of
    ``(table location, table version, query key)`` to a computed result.

    The lock is not held while a result is computed: two threads that miss the same key at once
    both compute it (the results are equal), which is cheaper than serialising table scans.
    Cached values are shared between requests and must not be mutated by callers.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, int, Hashable], object] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, location: str, version: int, key: Hashable, compute: Callable[[], T]) -> T:
        entry = (location, version, key)
        with self._lock:
            if entry in self._entries:
                self._entries.move_to_end(entry)
                self.hits += 1
                return cast("T", self._entries[entry])
            self.misses += 1
        value = compute()
        with self._lock:
            self._entries[entry] = value
            self._entries.move_to_end(entry)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
