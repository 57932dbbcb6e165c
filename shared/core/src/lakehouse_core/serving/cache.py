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
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar, cast

from pydantic import BaseModel

T = TypeVar("T")

DEFAULT_MAX_BYTES = 256 * 1024 * 1024

#: A list of more rows of one model than this is estimated from an evenly spaced sample of
#: about ``_SAMPLE`` of them.
_SAMPLED_ABOVE = 32
_SAMPLE = 16

#: Types that hold no other objects: counted by ``sys.getsizeof`` alone, without further look.
_LEAVES = frozenset({str, bytes, int, float, bool, type(None), date, datetime, Decimal})


def estimated_bytes(value: object) -> int:
    """What ``value`` holds in memory, as an estimate.

    pyarrow tables, record batches and arrays count their buffers (``nbytes``). Python values
    count ``sys.getsizeof`` of every object reachable through pydantic model fields, lists,
    tuples, sets and dicts, each container once and each scalar (str, number, date) every time
    it is reached; that is the heap they occupy give or take the allocator's overhead and
    scalars shared between rows. A long list of models of one type is estimated from an evenly
    spaced sample of its rows. Objects of other types count their ``sys.getsizeof`` alone.
    """
    seen: set[int] = set()
    total = 0
    stack = [value]
    size_of = sys.getsizeof
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _LEAVES:
            total += size_of(item)
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if kind.__module__.startswith("pyarrow"):
            arrow_bytes = getattr(item, "nbytes", None)
            if isinstance(arrow_bytes, int):
                total += arrow_bytes
                continue
        total += size_of(item)
        if isinstance(item, BaseModel):
            fields = item.__dict__
            total += size_of(fields)
            stack.extend(fields.keys())
            stack.extend(fields.values())
            if item.__pydantic_extra__:
                stack.append(item.__pydantic_extra__)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)) and len(item) > _SAMPLED_ABOVE and _uniform(item):
            sample = item[:: len(item) // _SAMPLE]
            total += round(sum(estimated_bytes(element) for element in sample) * len(item) / len(sample))
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return total


def _uniform(items: list[object] | tuple[object, ...]) -> bool:
    """Whether every element is a pydantic model of one type (rows of one result)."""
    kind = type(items[0])
    return issubclass(kind, BaseModel) and all(type(element) is kind for element in items)


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
        found, value = self.lookup(location, version, key)
        if found:
            return cast("T", value)
        computed = compute()
        self.store(location, version, key, computed)
        return computed

    def lookup(
        self, location: str, version: int, key: Hashable, *, count: bool = True
    ) -> tuple[bool, object]:
        """``(True, value)`` when an entry is cached (it becomes the most recently used), else
        ``(False, None)``; counts a hit or a miss unless ``count`` is false (a caller that judges
        the entry itself then counts with :meth:`count_hit`)."""
        entry = (location, version, key)
        with self._lock:
            if entry in self._entries:
                self._entries.move_to_end(entry)
                self.hits += count
                return True, self._entries[entry][0]
            self.misses += count
        return False, None

    def count_hit(self) -> None:
        with self._lock:
            self.hits += 1

    def store(
        self, location: str, version: int, key: Hashable, value: object, *, size: int | None = None
    ) -> None:
        """Cache ``value`` (of ``size`` bytes, estimated by the sizer when not given), evicting
        the least recently used entries beyond ``max_bytes``; a value larger than ``max_bytes``
        on its own is not cached."""
        entry = (location, version, key)
        size = self._sizer(value) if size is None else size
        if size > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(entry, None)
            if previous is not None:
                self._size -= previous[1]
            self._entries[entry] = (value, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._size -= evicted

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
