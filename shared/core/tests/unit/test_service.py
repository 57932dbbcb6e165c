import io
import json
import logging
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from lakehouse_core.health import HealthCheck
from lakehouse_core.service import CORRELATION_HEADER, DOCS_ASSETS_PATH, create_service_app
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
    assert 'lakehouse_http_requests_total{method="GET",route="/health",status="200"} 1.0' in metrics
    assert 'lakehouse_http_requests_total{method="GET",route="/ready",status="503"} 1.0' in metrics


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


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_every_asset_from_the_service(page: str) -> None:
    client = TestClient(create_service_app(service="demo", version="1"))
    html = client.get(page)
    assert html.status_code == 200
    references = _References()
    references.feed(html.text)
    assert references.urls, html.text
    assert "://" not in html.text, "the page names another host"
    if page == "/docs":
        assert '"validatorUrl": null' in html.text, "Swagger UI would call validator.swagger.io"
    for url in references.urls:
        assert url.startswith(DOCS_ASSETS_PATH + "/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        kind = asset.headers["content-type"]
        assert kind.startswith(("text/javascript", "text/css", "image/png")), (url, kind)
        assert len(asset.content) > 1000, url


def test_swagger_ui_script_and_stylesheet_are_the_real_bundle() -> None:
    client = TestClient(create_service_app(service="demo", version="1"))
    script = client.get(f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js").text
    assert "SwaggerUIBundle" in script
    assert ".swagger-ui" in client.get(f"{DOCS_ASSETS_PATH}/swagger-ui.css").text
