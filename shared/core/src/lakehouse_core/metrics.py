"""Prometheus metrics: the families every service and pipeline shares, on a registry of its own.

Each service builds its metrics with a :class:`~prometheus_client.CollectorRegistry` it owns
(never the global default), so tests and several apps in one process do not collide.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class HttpMetrics:
    requests: Counter
    latency: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry, *, namespace: str) -> HttpMetrics:
        return cls(
            requests=Counter(
                "http_requests",
                "HTTP requests served.",
                ["method", "route", "status"],
                namespace=namespace,
                registry=registry,
            ),
            latency=Histogram(
                "http_request_duration_seconds",
                "HTTP request latency.",
                ["method", "route"],
                namespace=namespace,
                registry=registry,
                buckets=LATENCY_BUCKETS,
            ),
        )


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
