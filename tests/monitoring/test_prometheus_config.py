"""The Prometheus configuration and the alert rules pass promtool (check config, check rules,
test rules), and the scrape targets are the ports the products are configured to listen on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lakehouse_testing.promql import promtool

pytestmark = pytest.mark.unit

MONITORING = Path(__file__).resolve().parents[2] / "infrastructure/monitoring"
PRODUCTS = MONITORING.parents[1] / "products"
PROMETHEUS = MONITORING / "prometheus/prometheus.yml"
ALERTS = MONITORING / "alerts"
GATEWAY_CONFIG = MONITORING.parents[1] / "shared/platform/src/lakehouse_platform/gateway/gateway.yaml"


def scrape_targets() -> dict[str, list[str]]:
    config = yaml.safe_load(PROMETHEUS.read_text())
    return {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }


def test_the_prometheus_configuration_and_its_rule_files_pass_promtool() -> None:
    checked = promtool("check", "config", str(PROMETHEUS))

    assert checked.returncode == 0, checked.stdout + checked.stderr
    rule_files = sorted(ALERTS.glob("*.rules.yml"))
    assert f"SUCCESS: {len(rule_files)} rule files found" in checked.stdout + checked.stderr


def test_every_alert_rule_file_passes_promtool_check_rules() -> None:
    checked = promtool("check", "rules", *map(str, sorted(ALERTS.glob("*.rules.yml"))))

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 9 rules found" in checked.stdout


def test_every_alert_fires_and_resolves_in_promtool_unit_tests() -> None:
    cases = sorted((ALERTS / "tests").glob("*.test.yml"))
    tested_rules = {c.name.removesuffix(".test.yml") for c in cases}

    tested = promtool("test", "rules", *map(str, cases))

    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested_rules == {r.name.removesuffix(".rules.yml") for r in ALERTS.glob("*.rules.yml")}


def test_the_platform_rules_cover_every_alert_the_monitoring_promises() -> None:
    rules = yaml.safe_load((ALERTS / "platform.rules.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    cases = (ALERTS / "tests/platform.test.yml").read_text()

    assert alerts == {
        "ServiceDown",
        "ApiLatencyHigh",
        "CollectorServerErrors",
        "CollectorKafkaUnavailable",
        "CollectorDeadLetterRateHigh",
        "BronzeConsumerLagHigh",
        "BronzeStreamStalled",
        "PipelineTaskFailed",
        "QuarantineRateHigh",
    }
    assert {a for a in alerts if f"alertname: {a}" not in cases} == set()


@pytest.mark.parametrize("product", sorted(p.name for p in PRODUCTS.iterdir() if (p / "config").is_dir()))
def test_each_service_of_a_product_is_scraped_on_its_configured_port(product: str) -> None:
    config = yaml.safe_load((PRODUCTS / product / "config/product.yaml").read_text())
    targets = scrape_targets()

    for component in ("serving", "collector"):
        if component in config:
            job = f"{product}-{'api' if component == 'serving' else component}"
            assert targets.get(job) == [f"127.0.0.1:{config[component]['port']}"], job
    gateway = yaml.safe_load(GATEWAY_CONFIG.read_text())
    assert targets["gateway"] == [f"{gateway['host']}:{gateway['port']}"]


def test_the_compose_configuration_scrapes_compose_services_with_the_local_jobs_and_labels() -> None:
    compose_config = MONITORING / "prometheus/compose.yml"
    services = yaml.safe_load((MONITORING.parent / "docker/docker-compose.yml").read_text())["services"]
    local = {job["job_name"]: job for job in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]}
    checked = promtool("check", "config", str(compose_config))

    assert checked.returncode == 0, checked.stdout + checked.stderr
    for job in yaml.safe_load(compose_config.read_text())["scrape_configs"]:
        name = job["job_name"]
        assert job["static_configs"][0]["labels"] == local[name]["static_configs"][0]["labels"], name
        assert job.get("honor_labels") == local[name].get("honor_labels"), name
        host = job["static_configs"][0]["targets"][0].split(":")[0]
        assert host == name, name
        assert name in services, name
