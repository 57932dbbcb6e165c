"""docker-compose.yml against the Compose Specification's JSON Schema (check-jsonschema's vendored
copy), then what the schema cannot see: every product's processes are there, dependencies and
volumes name things that exist, and every long-running service has a health check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import INFRASTRUCTURE, REPO, run, tool

pytestmark = pytest.mark.unit

COMPOSE = INFRASTRUCTURE / "docker" / "docker-compose.yml"
PRODUCTS = sorted(p.parent.parent.name for p in REPO.glob("products/*/config/product.yaml"))
#: What the stack takes from infrastructure/monitoring/, and where.
MONITORING_MOUNTS = {
    "../monitoring/prometheus/compose.yml": "/etc/prometheus/prometheus.yml",
    "../monitoring/alerts": "/etc/prometheus/alerts",
    "../monitoring/grafana/provisioning": "/etc/grafana/provisioning",
    "../monitoring/grafana/dashboards": "/var/lib/grafana/dashboards",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _validate(path: Path) -> tuple[int, str]:
    done = run(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", path)
    return done.returncode, done.stdout + done.stderr


def test_compose_file_follows_the_compose_specification() -> None:
    code, output = _validate(COMPOSE)
    assert code == 0, output


def test_schema_refuses_a_broken_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    text = COMPOSE.read_text()
    broken.write_text(text.replace("    restart: unless-stopped\n", "    restart: [always]\n", 1))
    code, output = _validate(broken)
    assert code != 0, output


def _has_collector(product: str) -> bool:
    declared = yaml.safe_load((REPO / "products" / product / "config" / "product.yaml").read_text())
    return "collector" in declared


@pytest.mark.parametrize("product", PRODUCTS)
def test_every_product_runs_its_api_pipeline_and_collector(compose: dict[str, Any], product: str) -> None:
    services = compose["services"]
    expected = {f"{product}-api", f"{product}-pipeline"} | (
        {f"{product}-collector"} if _has_collector(product) else set()
    )
    present = {name for name in services if name.startswith(f"{product}-")}
    assert present == expected
    for name in expected:
        assert services[name]["build"]["args"]["PRODUCT"] == product


def test_platform_services_are_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "gateway", "dagster", "prometheus", "grafana"} <= set(services)
    assert services["gateway"]["ports"] == ["8000:8000"]
    assert services["dagster"]["ports"] == ["3070:3070"]
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller", "a KRaft broker, no ZooKeeper"


def test_dependencies_and_volumes_exist(compose: dict[str, Any]) -> None:
    services, volumes = compose["services"], set(compose["volumes"])
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert set(depends) <= set(services), name
        assert all(d["condition"] in {"service_healthy", "service_started"} for d in depends.values())
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), (name, source)
            else:
                assert source in volumes, (name, source)


def test_long_running_services_are_health_checked(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        if name.endswith("-pipeline"):
            assert check == {"disable": True}, "a pipeline loop has no HTTP endpoint"
        elif "build" in service:
            # the product image's HEALTHCHECK asks /health on HEALTH_PORT (8080 unless set)
            port = str(service["environment"].get("HEALTH_PORT", 8080))
            published = [p.split(":")[-1] for p in service.get("ports", [])]
            assert check.get("test") or port in published, name
            for key, value in service["environment"].items():
                if key.endswith(("SERVING__PORT", "COLLECTOR__PORT")):
                    assert str(value) == port, (name, key)
        else:
            assert check.get("test"), name


def test_monitoring_is_configured_from_infrastructure_monitoring(compose: dict[str, Any]) -> None:
    mounts = {
        source: target
        for service in ("prometheus", "grafana")
        for source, target, *_ in (m.split(":") for m in compose["services"][service]["volumes"])
        if source.startswith(".")
    }
    assert mounts == MONITORING_MOUNTS
    assert compose["services"]["grafana"]["environment"]["PROMETHEUS_URL"] == "http://prometheus:9090"


def test_lake_and_state_are_shared_volumes(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "build" in service:
            assert "lake:/srv/lakehouse/data_lake" in service["volumes"], name
            assert "state:/srv/lakehouse/state" in service["volumes"], name
