import io
import json
import logging

import pytest
from fastapi.testclient import TestClient

from lakehouse_core.health import HealthCheck
from lakehouse_core.service import CORRELATION_HEADER, create_service_app
from lakehouse_core.structured_logging import JsonFormatter, correlation_scope

pytestmark = pytest.mark.unit


def failing_probe() -> str:
    raise ConnectionError("broker gone")


def test_health_ready_and_metrics() -> None:
    app = create_service_app(
        service="demo-api",
        version="1.2.3",
        checks=[HealthCheck("always", lambda: "fine"), HealthCheck("kafka", failing_probe)],
    )
    client = TestClient(app)

    assert client.get("/health").json() == {"status": "ok", "service": "demo-api", "version": "1.2.3"}

    ready = client.get("/ready")
    assert ready.status_code == 503
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert checks["always"]["status"] == "ok"
    assert checks["kafka"] == {
        **checks["kafka"],
        "status": "failing",
        "detail": "ConnectionError: broker gone",
    }

    metrics = client.get("/metrics").text
    assert 'demo_api_http_requests_total{method="GET",route="/health",status="200"} 1.0' in metrics
    assert 'demo_api_http_requests_total{method="GET",route="/ready",status="503"} 1.0' in metrics


def test_ready_is_200_when_all_checks_pass() -> None:
    client = TestClient(
        create_service_app(service="demo", version="1", checks=[HealthCheck("x", lambda: None)])
    )
    assert client.get("/ready").status_code == 200


def test_correlation_id_is_echoed_or_made() -> None:
    client = TestClient(create_service_app(service="demo", version="1"))
    assert client.get("/health", headers={CORRELATION_HEADER: "abc"}).headers[CORRELATION_HEADER] == "abc"
    assert len(client.get("/health").headers[CORRELATION_HEADER]) == 32


def test_json_logs_carry_correlation_id_and_extra_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("demo"))
    logger = logging.getLogger("test.structured")
    logger.addHandler(handler)
    logger.propagate = False
    with correlation_scope("run-7"):
        logger.warning("batch written", extra={"rows": 12, "table": "gold.x"})
    logger.info("outside")
    first, *_ = stream.getvalue().splitlines()
    entry = json.loads(first)
    assert entry["message"] == "batch written"
    assert entry["correlation_id"] == "run-7"
    assert (entry["rows"], entry["table"], entry["level"], entry["service"]) == (
        12,
        "gold.x",
        "warning",
        "demo",
    )
