"""The product's Prometheus gauges, read from ``silver.erasure_requests`` at each scrape: the
requests in each state, and those late (not completed and past their deadline), so an alert can
page before the legal deadline passes rather than after."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from compliance_auditing.storage.requests import request_states

NAMESPACE = "lakehouse"
STATES = ("pending", "executing", "completed", "failed")


class ErasureCollector(Collector):
    def __init__(self, lake_root: str, deadline: timedelta, clock: Callable[[], datetime]) -> None:
        self.lake_root = lake_root
        self.deadline = deadline
        self.clock = clock

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                f"{NAMESPACE}_erasure_requests",
                "Erasure requests by their current state.",
                labels=["state"],
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_erasure_requests_late",
                "Erasure requests not completed and past their deadline.",
            ),
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_state, late = self._families()
        states = request_states(self.lake_root).values()
        now = self.clock()
        counts = Counter(s.state for s in states)
        for state in STATES:
            by_state.add_metric([state], counts.get(state, 0))
        late.add_metric(
            [], sum(1 for s in states if s.state != "completed" and now > s.requested_at + self.deadline)
        )
        yield by_state
        yield late
