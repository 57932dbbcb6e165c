import threading

import pytest

from lakehouse_core.serving.cache import QueryCache

pytestmark = pytest.mark.unit


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return self.calls


def test_same_version_and_key_is_computed_once() -> None:
    cache, compute = QueryCache(), Counter()
    assert cache.get_or_compute("/t", 3, ("q", 1), compute) == 1
    assert cache.get_or_compute("/t", 3, ("q", 1), compute) == 1
    assert (compute.calls, cache.hits, cache.misses) == (1, 1, 1)


def test_a_new_version_another_key_or_another_table_recomputes() -> None:
    cache, compute = QueryCache(), Counter()
    cache.get_or_compute("/t", 3, "q", compute)
    assert cache.get_or_compute("/t", 4, "q", compute) == 2
    assert cache.get_or_compute("/t", 4, "other", compute) == 3
    assert cache.get_or_compute("/u", 4, "q", compute) == 4
    assert len(cache) == 4


def test_least_recently_used_entry_is_evicted_first() -> None:
    cache = QueryCache(max_entries=2)
    cache.get_or_compute("/t", 1, "a", lambda: "A")
    cache.get_or_compute("/t", 1, "b", lambda: "B")
    cache.get_or_compute("/t", 1, "a", lambda: "not used")
    cache.get_or_compute("/t", 1, "c", lambda: "C")
    assert len(cache) == 2
    assert cache.get_or_compute("/t", 1, "a", lambda: "recomputed") == "A"
    assert cache.get_or_compute("/t", 1, "b", lambda: "recomputed") == "recomputed"


def test_none_is_a_cached_result() -> None:
    cache, compute = QueryCache(), Counter()
    cache.get_or_compute("/t", 1, "q", lambda: compute() and None)
    cache.get_or_compute("/t", 1, "q", lambda: compute() and None)
    assert compute.calls == 1


def test_concurrent_use_keeps_the_bound_and_the_counts() -> None:
    cache = QueryCache(max_entries=8)
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        start.wait()
        for i in range(200):
            assert cache.get_or_compute("/t", i % 16, worker % 2, lambda i=i: i % 16) == i % 16

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) <= 8
    assert cache.hits + cache.misses == 8 * 200


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries must be at least 1, got 0"):
        QueryCache(max_entries=0)


def test_clear_empties_it() -> None:
    cache = QueryCache()
    cache.get_or_compute("/t", 1, "q", lambda: 1)
    cache.clear()
    assert len(cache) == 0
