"""An in-process cache of query results whose key includes the Delta table version.

A Delta version is immutable, so an entry can never go stale: a new commit changes the version
the next request looks up, and results of older versions age out of the LRU.

The cache is bounded by the estimated memory of its results (:func:`estimated_bytes`), not by
their number: one wide result can weigh more than thousands of small ones.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

from pydantic import BaseModel

T = TypeVar("T")

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


def estimated_bytes(value: object) -> int:
    """What ``value`` holds in memory, as an estimate.

    pyarrow tables, record batches and arrays count their buffers (``nbytes``). Python values
    count ``sys.getsizeof`` of every object reachable through pydantic model fields, lists,
    tuples, sets and dicts, each object once; that is the heap they occupy give or take the
    allocator's overhead. Objects of other types count their ``sys.getsizeof`` alone.
    """
    seen: set[int] = set()
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        arrow_bytes = getattr(item, "nbytes", None)
        if isinstance(arrow_bytes, int) and type(item).__module__.startswith("pyarrow"):
            total += arrow_bytes
            continue
        total += sys.getsizeof(item)
        if isinstance(item, BaseModel):
            stack.append(item.__dict__)
            if item.__pydantic_extra__:
                stack.append(item.__pydantic_extra__)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return total


class QueryCache:
    """Thread-safe map of ``(table location, table version, query key)`` to a computed result,
    bounded by ``max_bytes`` of estimated result size (``sizer``, default
    :func:`estimated_bytes`), least recently used first out. A result larger than ``max_bytes``
    on its own is returned but not cached.

    The lock is not held while a result is computed: two threads that miss the same key at once
    both compute it (the results are equal), which is cheaper than serialising table scans.
    Cached values are shared between requests and must not be mutated by callers.
    """

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, *, sizer: Callable[[object], int] = estimated_bytes
    ) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._sizer = sizer
        self._size = 0
        self._entries: OrderedDict[tuple[str, int, Hashable], tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, location: str, version: int, key: Hashable, compute: Callable[[], T]) -> T:
        entry = (location, version, key)
        with self._lock:
            if entry in self._entries:
                self._entries.move_to_end(entry)
                self.hits += 1
                return cast("T", self._entries[entry][0])
            self.misses += 1
        value = compute()
        size = self._sizer(value)
        if size > self.max_bytes:
            return value
        with self._lock:
            previous = self._entries.pop(entry, None)
            if previous is not None:
                self._size -= previous[1]
            self._entries[entry] = (value, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._size -= evicted
        return value

    @property
    def size_bytes(self) -> int:
        """The estimated bytes of the results cached now."""
        with self._lock:
            return self._size

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __bool__(self) -> bool:
        """A cache is a cache even while empty (``cache or QueryCache()`` keeps it)."""
        return True

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0
