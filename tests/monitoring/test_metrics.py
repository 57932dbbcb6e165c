"""The collectors of lakehouse_core.metrics on the objects they read: a streaming query's last
progress as Spark reports it, a real query cache, and a Pushgateway that does not answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lakehouse_core.metrics import PipelineRunMetrics, QueryCacheCollector, StreamLagCollector
from lakehouse_core.platform_topics import PipelineRunRecord
from lakehouse_core.service import create_service_app
from lakehouse_core.serving.cache import QueryCache
from lakehouse_testing.plugin import free_port

pytestmark = pytest.mark.unit

#: A micro-batch's progress as pyspark's ``StreamingQuery.lastProgress`` returns it (Spark 3.5's
#: Kafka source reports its lag in ``metrics`` as strings).
PROGRESS: dict[str, Any] = {
    "id": "5f0c",
    "runId": "9a1b",
    "name": "bronze-web-user-analytics-events",
    "timestamp": "2026-12-02T10:00:00.000Z",
    "batchId": 7,
    "numInputRows": 120,
    "inputRowsPerSecond": 12.0,
    "processedRowsPerSecond": 240.0,
    "sources": [
        {
            "description": "KafkaV2[Subscribe[web.events.v1]]",
            "startOffset": {"web.events.v1": {"0": 10, "1": 20}},
            "endOffset": {"web.events.v1": {"0": 70, "1": 80}},
            "latestOffset": {"web.events.v1": {"0": 90, "1": 1080}},
            "numInputRows": 120,
            "metrics": {
                "avgOffsetsBehindLatest": "510.0",
                "maxOffsetsBehindLatest": "1000",
                "minOffsetsBehindLatest": "20",
            },
        }
    ],
}


class Query:
    def __init__(self, name: str | None, progress: Mapping[str, Any] | None) -> None:
        self.name = name
        self.lastProgress = progress


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(collector: object) -> str:
    registry = CollectorRegistry()
    registry.register(collector)  # type: ignore[arg-type]
    return generate_latest(registry).decode()


def test_stream_lag_comes_from_the_kafka_source_of_the_last_progress() -> None:
    text = scrape(
        StreamLagCollector(lambda: [Query("bronze-web-user-analytics-events", PROGRESS), Query("new", None)])
    )
    labels = 'query="bronze-web-user-analytics-events",source="KafkaV2[Subscribe[web.events.v1]]"'

    assert f'lakehouse_stream_offsets_behind_latest{{{labels},stat="max"}} 1000.0' in text
    assert f'lakehouse_stream_offsets_behind_latest{{{labels},stat="avg"}} 510.0' in text
    assert f'lakehouse_stream_offsets_behind_latest{{{labels},stat="min"}} 20.0' in text
    assert 'lakehouse_stream_batch_input_rows{query="bronze-web-user-analytics-events"} 120.0' in text
    started = datetime(2026, 12, 2, 10, tzinfo=UTC).timestamp()
    query = ("query", "bronze-web-user-analytics-events")
    assert samples(text)[("lakehouse_stream_last_batch_timestamp_seconds", frozenset({query}))] == started
    assert 'query="new"' not in text


def test_query_cache_metrics_are_read_from_the_cache_at_each_scrape() -> None:
    cache = QueryCache(max_bytes=10_000)
    found: list[QueryCache | None] = [None]
    collector = QueryCacheCollector(lambda: found[0])

    assert "lakehouse_query_cache" not in scrape(collector)
    found[0] = cache
    cache.get_or_compute("t", 1, "q", lambda: [1, 2, 3])
    cache.get_or_compute("t", 1, "q", lambda: [1, 2, 3])
    cache.get_or_compute("t", 2, "q", lambda: [1, 2, 3])
    text = scrape(collector)

    assert "lakehouse_query_cache_hits_total 1.0" in text
    assert "lakehouse_query_cache_misses_total 2.0" in text
    assert "lakehouse_query_cache_entries 2.0" in text
    assert f"lakehouse_query_cache_size_bytes {float(cache.size_bytes)}" in text
    assert cache.size_bytes > 0


def test_pipeline_metrics_count_attempts_and_rows_and_survive_an_absent_pushgateway(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = PipelineRunMetrics(pushgateway_url=f"127.0.0.1:{free_port()}")
    started = datetime(2026, 12, 2, tzinfo=UTC)
    record = PipelineRunRecord(
        product="p",
        asset="silver",
        run_id="r",
        attempt=1,
        final_attempt=True,
        status="succeeded",
        started_at=started,
        finished_at=started + timedelta(seconds=42),
        rows_read={"p.bronze.events": 100},
        rows_quarantined={"not_null": 3},
        cpu_seconds=1.0,
        peak_memory_bytes=1,
    )

    metrics.observe(record)
    text = generate_latest(metrics.registry).decode()

    found = samples(text)
    where = {("product", "p"), ("asset", "silver")}
    succeeded = frozenset({*where, ("status", "succeeded")})
    assert found[("lakehouse_pipeline_task_attempts_total", succeeded | {("final", "true")})] == 1
    assert found[("lakehouse_pipeline_task_duration_seconds_sum", succeeded)] == 42
    assert (
        found[("lakehouse_pipeline_rows_read_total", frozenset({*where, ("source", "p.bronze.events")}))]
        == 100
    )
    assert (
        found[("lakehouse_pipeline_rows_quarantined_total", frozenset({*where, ("rule", "not_null")}))] == 3
    )
    assert "pipeline metrics not pushed" in caplog.text


def test_documentation_routes_count_under_their_route_and_only_unknown_paths_are_unmatched() -> None:
    client = TestClient(create_service_app(service="demo-api", version="1"))
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui.css", "/nowhere"):
        client.get(path)
    found = samples(client.get("/metrics").text)

    def requests(route: str, status: str) -> float:
        labels = frozenset({("method", "GET"), ("route", route), ("status", status)})
        return found.get(("lakehouse_http_requests_total", labels), 0.0)

    assert [requests(r, "200") for r in ("/docs", "/redoc", "/openapi.json", "/docs/assets")] == [1, 1, 1, 1]
    assert requests("unmatched", "404") == 1
    assert requests("unmatched", "200") == 0
