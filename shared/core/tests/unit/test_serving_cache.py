import sys
import threading

import pyarrow as pa
import pytest
from pydantic import BaseModel

from lakehouse_core.serving.cache import QueryCache, estimated_bytes

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
    cache = QueryCache(max_bytes=2, sizer=lambda _: 1)
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
    cache = QueryCache(max_bytes=8 * 100, sizer=lambda _: 100)
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
    with pytest.raises(ValueError, match="max_bytes must be at least 1, got 0"):
        QueryCache(max_bytes=0)


def test_clear_empties_it() -> None:
    cache = QueryCache()
    cache.get_or_compute("/t", 1, "q", lambda: 1)
    cache.clear()
    assert len(cache) == 0
    assert cache.size_bytes == 0


class Row(BaseModel):
    day: str
    visits: int


def wide(rows: int) -> pa.Table:
    return pa.table({"day": [f"2026-01-{i % 28 + 1:02d}" for i in range(rows)], "visits": list(range(rows))})


def test_a_few_wide_results_cannot_exceed_the_byte_bound() -> None:
    table = wide(10_000)
    cache = QueryCache(max_bytes=3 * table.nbytes)
    for version in range(10):
        cache.get_or_compute("/t", version, "q", lambda: wide(10_000))
    assert len(cache) == 3
    assert cache.size_bytes == 3 * table.nbytes <= cache.max_bytes


def test_the_least_recently_used_results_go_first_until_the_new_one_fits() -> None:
    cache = QueryCache(max_bytes=100, sizer=len)
    cache.get_or_compute("/t", 1, "a", lambda: "a" * 40)
    cache.get_or_compute("/t", 1, "b", lambda: "b" * 40)
    cache.get_or_compute("/t", 1, "a", lambda: "not used")
    cache.get_or_compute("/t", 1, "c", lambda: "c" * 50)
    assert cache.size_bytes == 90
    assert cache.get_or_compute("/t", 1, "a", lambda: "recomputed") == "a" * 40
    assert cache.get_or_compute("/t", 1, "b", lambda: "recomputed") == "recomputed"
    assert (cache.hits, cache.misses) == (2, 4)


def test_a_result_larger_than_the_whole_bound_is_returned_but_not_cached() -> None:
    cache, compute = QueryCache(max_bytes=100, sizer=len), Counter()
    cache.get_or_compute("/t", 1, "small", lambda: "s" * 10)
    for _ in range(2):
        assert cache.get_or_compute("/t", 1, "huge", lambda: "h" * (100 + compute())) == "h" * (
            100 + compute.calls
        )
    assert compute.calls == 2
    assert (len(cache), cache.size_bytes) == (1, 10)
    assert cache.get_or_compute("/t", 1, "small", lambda: "recomputed") == "s" * 10


def test_an_empty_cache_is_still_truthy() -> None:
    cache = QueryCache()
    assert (cache or QueryCache()) is cache


def test_estimated_bytes_of_arrow_and_pydantic_results() -> None:
    table = wide(1_000)
    assert estimated_bytes(table) == table.nbytes
    one = [Row(day="2026-01-01", visits=i + 1000) for i in range(10)]
    many = [Row(day="2026-01-01", visits=i + 1000) for i in range(1_000)]
    assert estimated_bytes(one) > 10 * sys.getsizeof(one[0])
    assert 90 * estimated_bytes(one) < estimated_bytes(many) < 110 * estimated_bytes(one)
    assert estimated_bytes({"rows": many}) > estimated_bytes(many)
