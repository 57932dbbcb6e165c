"""Prometheus metrics: the families every service and pipeline shares, on a registry of its own.

Each service builds its metrics with a :class:`~prometheus_client.CollectorRegistry` it owns
(never the global default), so tests and several apps in one process do not collide. Names
start with :data:`NAMESPACE` and say what they count, never which service counts it: the
service is the scrape's ``job`` label, so one query covers every service (``sum by (job)
(rate(lakehouse_http_requests_total[5m]))``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    push_to_gateway,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from lakehouse_core.platform_topics import PipelineRunRecord

log = logging.getLogger(__name__)

NAMESPACE = "lakehouse"

#: Where the worker processes of one service keep their metrics (Prometheus multiprocess mode).
MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Pipeline tasks take seconds to hours.
TASK_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)


def service_registry() -> CollectorRegistry:
    """A registry with the process's own metrics: CPU, memory, open files and start time
    (``process_*``, on Linux), the Python version (``python_info``) and garbage collection
    (``python_gc_*``). The collectors read the process at each scrape; they keep no state, so
    every registry of the process may hold them."""
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


@dataclass(frozen=True)
class HttpMetrics:
    requests: Counter
    latency: Histogram

    @classmethod
    def register(cls, registry: CollectorRegistry) -> HttpMetrics:
        return cls(
            requests=Counter(
                "http_requests",
                "HTTP requests served, by route template (unmatched: no route) and status.",
                ["method", "route", "status"],
                namespace=NAMESPACE,
                registry=registry,
            ),
            latency=Histogram(
                "http_request_duration_seconds",
                "HTTP request latency, by route template.",
                ["method", "route"],
                namespace=NAMESPACE,
                registry=registry,
                buckets=LATENCY_BUCKETS,
            ),
        )


@dataclass(frozen=True)
class CollectorMetrics:
    """What an event collector counts: events by what became of them, and requests it refused
    before any event was read (a missing write key, a body too large or in an unknown encoding),
    by the ``code`` of the error answer."""

    events: Counter
    rejected_requests: Counter

    @classmethod
    def register(cls, registry: CollectorRegistry) -> CollectorMetrics:
        return cls(
            events=Counter(
                "collector_events",
                "Events by outcome: accepted (acknowledged by Kafka), dead_lettered, unavailable "
                "(Kafka did not acknowledge; the caller got 503 and retries).",
                ["outcome"],
                namespace=NAMESPACE,
                registry=registry,
            ),
            rejected_requests=Counter(
                "collector_rejected_requests",
                "Requests answered with an error, by its code (unauthorized, invalid_request, "
                "payload_too_large, unsupported_media_type, unavailable).",
                ["code"],
                namespace=NAMESPACE,
                registry=registry,
            ),
        )


class Sized(Protocol):
    def __len__(self) -> int: ...


@dataclass(frozen=True)
class ProducerMetrics:
    """A Kafka producer's sends, from its delivery reports: acknowledged and failed messages
    per topic, the time from ``produce`` to the broker's answer, and the messages waiting in
    the client's queue (sent or not yet, unacknowledged)."""

    delivered: Counter
    delivery_errors: Counter
    delivery_latency: Histogram
    queued: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> ProducerMetrics:
        return cls(
            delivered=Counter(
                "kafka_producer_delivered_messages",
                "Messages the broker acknowledged.",
                ["topic"],
                namespace=NAMESPACE,
                registry=registry,
            ),
            delivery_errors=Counter(
                "kafka_producer_delivery_errors",
                "Messages the producer could not deliver (the delivery report's error, or refused "
                "before queueing).",
                ["topic"],
                namespace=NAMESPACE,
                registry=registry,
            ),
            delivery_latency=Histogram(
                "kafka_producer_delivery_latency_seconds",
                "Seconds from produce to the delivery report.",
                ["topic"],
                namespace=NAMESPACE,
                registry=registry,
                buckets=LATENCY_BUCKETS,
            ),
            queued=Gauge(
                "kafka_producer_queued_messages",
                "Messages in the producer's queue, waiting to be sent or acknowledged.",
                namespace=NAMESPACE,
                registry=registry,
            ),
        )

    def watch(self, producer: Sized) -> None:
        """Read the queue depth from ``len(producer)`` at each scrape."""
        self.queued.set_function(lambda: len(producer))

    def delivery(self, topic: str, started: float, *, failed: bool) -> None:
        """Record one delivery report of a message produced at ``started`` (``perf_counter``)."""
        if failed:
            self.delivery_errors.labels(topic).inc()
        else:
            self.delivered.labels(topic).inc()
        self.delivery_latency.labels(topic).observe(time.perf_counter() - started)


class CacheStatistics(Protocol):
    """What :class:`QueryCacheCollector` reads of a query cache."""

    hits: int
    misses: int
    max_bytes: int

    @property
    def size_bytes(self) -> int: ...
    def __len__(self) -> int: ...


class QueryCacheCollector(Collector):
    """A query cache's own counters, read at each scrape from whatever cache ``find`` returns
    then (nothing while it returns ``None``), so the cache need not know about metrics."""

    def __init__(self, find: Callable[[], CacheStatistics | None]) -> None:
        self.find = find

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        cache = self.find()
        if cache is None:
            return
        yield CounterMetricFamily(
            f"{NAMESPACE}_query_cache_hits", "Lookups answered from the cache.", cache.hits
        )
        yield CounterMetricFamily(
            f"{NAMESPACE}_query_cache_misses", "Lookups that computed their result.", cache.misses
        )
        yield GaugeMetricFamily(
            f"{NAMESPACE}_query_cache_size_bytes", "Estimated bytes of the cached results.", cache.size_bytes
        )
        yield GaugeMetricFamily(f"{NAMESPACE}_query_cache_entries", "Results cached.", len(cache))
        yield GaugeMetricFamily(
            f"{NAMESPACE}_query_cache_max_bytes", "The cache's bound on estimated bytes.", cache.max_bytes
        )


class ProgressingQuery(Protocol):
    """What :class:`StreamLagCollector` reads of a Spark ``StreamingQuery``."""

    @property
    def name(self) -> str | None: ...
    @property
    def lastProgress(self) -> Mapping[str, Any] | None: ...  # noqa: N802 - pyspark's name


#: The Kafka source's lag figures in a streaming query's progress, by the ``stat`` label.
KAFKA_LAG_STATS = {
    "max": "maxOffsetsBehindLatest",
    "avg": "avgOffsetsBehindLatest",
    "min": "minOffsetsBehindLatest",
}


class StreamLagCollector(Collector):
    """Consumer lag of streaming queries reading Kafka: at each scrape, the last progress of each
    query from ``queries`` gives the offsets its Kafka sources are behind the latest (per
    partition: the largest, mean and smallest), the rows of its last micro-batch and when that
    batch started (Spark's progress timestamp). A query that has not finished a batch yet
    reports nothing."""

    def __init__(self, queries: Callable[[], Iterable[ProgressingQuery]]) -> None:
        self.queries = queries

    def describe(self) -> Iterator[Metric]:
        return iter(())

    def collect(self) -> Iterator[Metric]:
        behind = GaugeMetricFamily(
            f"{NAMESPACE}_stream_offsets_behind_latest",
            "Offsets a stream's Kafka source is behind the latest, per partition (stat: max, avg, min), "
            "as of its last micro-batch.",
            labels=["query", "source", "stat"],
        )
        rows = GaugeMetricFamily(
            f"{NAMESPACE}_stream_batch_input_rows",
            "Rows read by the stream's last micro-batch.",
            labels=["query"],
        )
        rate = GaugeMetricFamily(
            f"{NAMESPACE}_stream_processed_rows_per_second",
            "Rows per second the stream's last micro-batch processed.",
            labels=["query"],
        )
        batch_started = GaugeMetricFamily(
            f"{NAMESPACE}_stream_last_batch_timestamp_seconds",
            "When the stream's last micro-batch started (Unix seconds).",
            labels=["query"],
        )
        for query in self.queries():
            progress = query.lastProgress
            if not progress:
                continue
            name = query.name or str(progress.get("name") or progress.get("id", ""))
            rows.add_metric([name], float(progress.get("numInputRows") or 0))
            rate.add_metric([name], float(progress.get("processedRowsPerSecond") or 0))
            if progress.get("timestamp"):
                started = datetime.fromisoformat(str(progress["timestamp"]).replace("Z", "+00:00"))
                batch_started.add_metric([name], started.timestamp())
            for source in progress.get("sources") or ():
                figures = source.get("metrics") or {}
                for stat, key in KAFKA_LAG_STATS.items():
                    if figures.get(key) not in (None, ""):
                        behind.add_metric(
                            [name, str(source.get("description", "")), stat], float(figures[key])
                        )
        yield from (behind, rows, rate, batch_started)


class MetricsSettings(BaseSettings):
    """Where processes without an HTTP service expose their metrics: a batch pipeline pushes to
    the Prometheus Pushgateway at ``LAKEHOUSE_PUSHGATEWAY_URL`` (e.g. ``http://pushgateway:9091``),
    a continuous stream serves ``/metrics`` on ``LAKEHOUSE_STREAM_METRICS_PORT``. Empty or 0:
    neither."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_", extra="ignore")

    pushgateway_url: str = ""
    stream_metrics_host: str = "0.0.0.0"  # scraped from outside the container
    stream_metrics_port: int = Field(default=0, ge=0, le=65535)


class PipelineRunMetrics:
    """Pipeline task attempts by product, asset and status, their durations and the rows they
    read, wrote and quarantined: an attempt
    observer for the runner (``attempt_started`` / ``attempt_ended``). A pipeline command ends
    before Prometheus could scrape it, so with ``pushgateway_url`` each ended attempt pushes
    the registry to a Prometheus Pushgateway, grouped by product (Prometheus scrapes the gateway
    with ``honor_labels``). A push that fails is logged and the run goes on."""

    JOB = "lakehouse-pipeline"

    def __init__(self, *, pushgateway_url: str = "", registry: CollectorRegistry | None = None) -> None:
        self.pushgateway_url = pushgateway_url
        self.registry = registry or CollectorRegistry()
        self._lock = threading.Lock()
        self.attempts = Counter(
            "pipeline_task_attempts",
            "Task attempts that ended, by status (succeeded, failed) and whether it was the final one.",
            ["product", "asset", "status", "final"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.duration = Histogram(
            "pipeline_task_duration_seconds",
            "Seconds a task attempt ran.",
            ["product", "asset", "status"],
            namespace=NAMESPACE,
            registry=self.registry,
            buckets=TASK_BUCKETS,
        )
        self.last_ended = Gauge(
            "pipeline_task_last_end_timestamp_seconds",
            "When the asset's latest attempt ended (Unix seconds), by its status.",
            ["product", "asset", "status"],
            namespace=NAMESPACE,
            registry=self.registry,
        )

        self.rows_read = Counter(
            "pipeline_rows_read",
            "Rows the succeeded attempts read, by the table or kafka:<topic> they came from.",
            ["product", "asset", "source"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.rows_written = Counter(
            "pipeline_rows_written",
            "Rows the succeeded attempts wrote, by table.",
            ["product", "asset", "table"],
            namespace=NAMESPACE,
            registry=self.registry,
        )
        self.rows_quarantined = Counter(
            "pipeline_rows_quarantined",
            "Rows the succeeded attempts put into quarantine, by the rule they failed.",
            ["product", "asset", "rule"],
            namespace=NAMESPACE,
            registry=self.registry,
        )

    def attempt_started(self, task: object, context: object, started_at: datetime) -> None:
        return None

    def attempt_ended(self, task: object, context: object, record: PipelineRunRecord) -> None:
        self.observe(record)

    def record(self, run: object) -> None:
        """The runner's end-of-run call: every attempt was already observed."""
        return None

    def observe(self, record: PipelineRunRecord) -> None:
        labels = (record.product, record.asset, record.status)
        seconds = max(0.0, (record.finished_at - record.started_at).total_seconds())
        with self._lock:
            self.attempts.labels(*labels, str(record.final_attempt).lower()).inc()
            self.duration.labels(*labels).observe(seconds)
            self.last_ended.labels(*labels).set(record.finished_at.timestamp())
            where = (record.product, record.asset)
            for counter, counts in (
                (self.rows_read, record.rows_read),
                (self.rows_written, record.rows_written),
                (self.rows_quarantined, record.rows_quarantined),
            ):
                for name, rows in counts.items():
                    counter.labels(*where, name).inc(rows)
        if self.pushgateway_url:
            self.push(record.product)

    def push(self, product: str) -> None:
        try:
            push_to_gateway(
                self.pushgateway_url,
                job=self.JOB,
                registry=self.registry,
                grouping_key={"product": product},
                timeout=5,
            )
        except OSError as exc:
            log.warning("pipeline metrics not pushed to %s: %s", self.pushgateway_url, exc)


class ActiveStreams(Protocol):
    """What :func:`serve_stream_metrics` reads of a Spark session (``spark.streams``)."""

    @property
    def active(self) -> Sequence[ProgressingQuery]: ...


_served_ports: set[int] = set()
_serving = threading.Lock()


def serve_stream_metrics(streams: ActiveStreams, settings: MetricsSettings | None = None) -> None:
    """Serve ``/metrics`` for this process's streams in a background thread, on
    ``stream_metrics_port`` (nothing when it is 0; once per port and process): the lag of every
    active streaming query and the process's own metrics (:func:`service_registry`)."""
    settings = settings or MetricsSettings()
    host, port = settings.stream_metrics_host, settings.stream_metrics_port
    with _serving:
        if not port or port in _served_ports:
            return
        _served_ports.add(port)
    registry = service_registry()
    registry.register(StreamLagCollector(lambda: streams.active))
    start_http_server(port, addr=host, registry=registry)
    log.info("stream metrics at http://%s:%s/metrics", host, port)


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The registry in Prometheus text format, with its content type.

    In a service of several worker processes (:data:`MULTIPROCESS_VARIABLE` set, see
    :func:`lakehouse_core.http_server.serve`) the counters, histograms and gauges are those of
    every worker, summed (Prometheus multiprocess mode); the figures collectors read from the
    answering process itself at the scrape (``process_*``, ``python_*``, the query cache) are
    that worker's, with a ``worker`` label (its process id)."""
    folder = os.environ.get(MULTIPROCESS_VARIABLE)
    if not folder:
        return generate_latest(registry), CONTENT_TYPE_LATEST
    combined = CollectorRegistry(auto_describe=False)
    # prometheus_client's multiprocess module carries no type hints.
    collector = MultiProcessCollector(None, path=folder)  # type: ignore[no-untyped-call]
    shared = list(collector.collect())  # type: ignore[no-untyped-call]
    combined.register(_Fixed(shared))
    combined.register(
        _WorkerLabelled(registry, skip={family.name for family in shared}, worker=str(os.getpid()))
    )
    return generate_latest(combined), CONTENT_TYPE_LATEST


class _Fixed(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


class _WorkerLabelled(Collector):
    """``registry``'s families not in ``skip``, each sample labelled with ``worker``."""

    def __init__(self, registry: CollectorRegistry, *, skip: set[str], worker: str) -> None:
        self.registry = registry
        self.skip = skip
        self.worker = worker

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            if family.name in self.skip or not family.samples:
                continue
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                labelled.add_sample(
                    sample.name, {**sample.labels, "worker": self.worker}, sample.value, sample.timestamp
                )
            yield labelled
