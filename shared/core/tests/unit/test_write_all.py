"""``write_all`` runs independent writes at the same time, lets each finish, then raises the
first failure."""

from __future__ import annotations

import threading

import pytest

from lakehouse_core.delta import write_all


def test_the_writes_run_at_the_same_time() -> None:
    started = threading.Barrier(3, timeout=10)
    write_all([started.wait, started.wait, started.wait], concurrency=3)
    assert started.n_waiting == 0
    assert not started.broken


def test_every_write_finishes_before_the_first_failure_is_raised() -> None:
    finished: list[str] = []
    release = threading.Event()

    def fails() -> None:
        raise ValueError("first")

    def fails_later() -> None:
        raise KeyError("second")

    def slow() -> None:
        release.wait(timeout=10)
        finished.append("slow")

    def releases() -> None:
        release.set()
        finished.append("quick")

    with pytest.raises(ValueError, match="first"):
        write_all([fails, slow, fails_later, releases], concurrency=4)
    assert sorted(finished) == ["quick", "slow"]


def test_with_a_concurrency_of_one_the_writes_run_in_order() -> None:
    order: list[int] = []
    write_all([lambda: order.append(1), lambda: order.append(2), lambda: order.append(3)], concurrency=1)
    assert order == [1, 2, 3]
