"""Every metric a Grafana panel or an alert rule queries is exported by a running service.

One module fixture starts the real things once and scrapes ``/metrics`` over HTTP: a collector
in front of a real Kafka broker (one accepted event, one refused for its write key), each
installed product's API (its declaration's ``serving_app`` over an empty lake), the stream-metrics
server an ``ingest`` process starts, and the pipeline metrics a real pipeline run pushes to a
Pushgateway (here an HTTP server that keeps what it is sent, in the exposition format the
Pushgateway re-exports)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
import yaml

from lakehouse_core.kafka.admin import TopicSpec
from lakehouse_core.metrics import MetricsSettings, PipelineRunMetrics, serve_stream_metrics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_events.collector import CollectorConfig, create_collector_app
from lakehouse_platform.catalog import ServedProduct, discover_products
from lakehouse_platform.orchestrator import Pipeline, Task, run_pipeline
from lakehouse_testing.plugin import KafkaFixture, free_port, serve_in_thread
from tests.monitoring.promql import SCRAPE_SERIES, exported_names, metric_names

pytestmark = pytest.mark.integration

MONITORING = Path(__file__).resolve().parents[2] / "infrastructure/monitoring"
DASHBOARDS = sorted((MONITORING / "grafana/dashboards").glob("*.json"))
WRITE_KEY = "monitoring-test-key"


class _Pushgateway(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_PUT(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return None


def _pushed_pipeline_metrics(stack: ExitStack) -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Pushgateway)
    stack.callback(server.server_close)
    stack.callback(server.shutdown)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    metrics = PipelineRunMetrics(pushgateway_url=f"127.0.0.1:{server.server_address[1]}")

    def silver(_: object) -> dict[str, object]:
        return {
            "rows_read": {"p.bronze.events": 10},
            "rows_written": {"p.silver.events": 9},
            "rows_quarantined": {"r": 1},
        }

    def gold(_: object) -> None:
        raise RuntimeError("gold is broken")

    pipeline = Pipeline(
        "monitoring-test",
        [Task("silver", silver), Task("gold", gold, depends_on=("silver",), retries=0)],
    )
    run_pipeline(pipeline, recorders=[metrics], sleep=lambda _: None)
    assert _Pushgateway.received, "the pipeline pushed no metrics"
    return _Pushgateway.received[-1].decode()


def _collector_metrics(stack: ExitStack, bootstrap: str) -> str:
    topic = f"test.monitoring.{uuid.uuid4().hex[:8]}"
    config = CollectorConfig(
        service="web-user-analytics-collector",
        version="0",
        bootstrap_servers=bootstrap,
        events_topic=topic,
        dead_letter_topic=f"{topic}.dlq",
        write_keys=[WRITE_KEY],
        topics=[TopicSpec(topic), TopicSpec(f"{topic}.dlq")],
    )
    url = stack.enter_context(serve_in_thread(create_collector_app(config)))
    event = {"type": "track", "event": "Opened", "anonymousId": "a", "messageId": "m1"}
    accepted = httpx.post(f"{url}/v1/track", json=event, auth=(WRITE_KEY, ""), timeout=30)
    refused = httpx.post(f"{url}/v1/track", json=event, auth=("wrong", ""), timeout=30)
    assert (accepted.status_code, refused.status_code) == (200, 401), accepted.text
    metrics = httpx.get(f"{url}/metrics", timeout=10).text
    assert 'lakehouse_collector_events_total{outcome="accepted"} 1.0' in metrics
    assert 'lakehouse_collector_rejected_requests_total{code="unauthorized"} 1.0' in metrics
    assert f'lakehouse_kafka_producer_delivered_messages_total{{topic="{topic}"}} 1.0' in metrics
    return metrics


def _api_metrics(stack: ExitStack, lake_root: Path) -> dict[str, str]:
    scraped = {}
    settings = LakehouseSettings(lake_root=str(lake_root))
    for product in discover_products():
        assert isinstance(product, ServedProduct), product.name
        url = stack.enter_context(serve_in_thread(product.serving_app(settings)))
        assert httpx.get(f"{url}/openapi.json", timeout=10).status_code == 200
        scraped[product.name] = httpx.get(f"{url}/metrics", timeout=30).text
    return scraped


class _NoStreams:
    active: ClassVar[list[object]] = []


@pytest.fixture(scope="module")
def scraped(kafka_broker: KafkaFixture, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with ExitStack() as stack:
        services = {"collector": _collector_metrics(stack, kafka_broker.bootstrap_servers)}
        services.update(_api_metrics(stack, tmp_path_factory.mktemp("lake")))
        port = free_port()
        serve_stream_metrics(
            _NoStreams(), MetricsSettings(stream_metrics_host="127.0.0.1", stream_metrics_port=port)
        )
        services["ingest"] = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        services["pipeline"] = _pushed_pipeline_metrics(stack)
        yield services


def panel_expressions(dashboard: Path) -> list[str]:
    panels = json.loads(dashboard.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_there_is_an_overview_and_a_dashboard_per_product() -> None:
    products = {e.name for e in entry_points(group="lakehouse.products")}

    assert {d.stem for d in DASHBOARDS} == {"platform-overview", *products}


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.stem)
def test_every_panel_queries_metrics_a_running_service_exports(
    dashboard: Path, scraped: dict[str, str]
) -> None:
    exported = SCRAPE_SERIES.union(*(exported_names(text) for text in scraped.values()))
    expressions = panel_expressions(dashboard)

    assert expressions
    assert {e: metric_names(e) - exported for e in expressions if metric_names(e) - exported} == {}


def test_every_alert_rule_queries_metrics_a_running_service_exports(scraped: dict[str, str]) -> None:
    exported = SCRAPE_SERIES.union(*(exported_names(text) for text in scraped.values()))
    rules = [
        rule
        for path in sorted((MONITORING / "alerts").glob("*.rules.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]

    assert {
        r["alert"]: metric_names(r["expr"]) - exported for r in rules if metric_names(r["expr"]) - exported
    } == {}


def test_each_service_exports_its_process_metrics_and_no_metric_named_after_itself(
    scraped: dict[str, str],
) -> None:
    for service, text in scraped.items():
        names = exported_names(text)
        if service != "pipeline":
            assert "process_resident_memory_bytes" in names, service
        assert {
            n for n in names if n.startswith(("web_user", "mobile_user", "user_seg", "compliance_"))
        } == set()


def test_the_documentation_routes_are_counted_under_their_route(scraped: dict[str, str]) -> None:
    for product, text in scraped.items():
        if product in {"collector", "ingest", "pipeline"}:
            continue
        assert 'route="/openapi.json",status="200"' in text, product
        assert 'route="unmatched"' not in text, product
