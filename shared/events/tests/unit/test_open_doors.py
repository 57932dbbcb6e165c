"""A service whose secrets are missing refuses to start outside dev, and says what to set."""

import ipaddress
import logging
from pathlib import Path

import pytest
from pydantic import Field

from lakehouse_core.config import CollectorSettings, ProductConfig, load_config
from lakehouse_core.errors import ConfigError
from lakehouse_core.serving.api import create_table_api
from lakehouse_core.serving.cache import QueryCache
from lakehouse_events.collector import product_collector_app
from lakehouse_events.collector.envelope import client_address

pytestmark = pytest.mark.unit


class DemoConfig(ProductConfig):
    collector: CollectorSettings = Field(default_factory=CollectorSettings)


def demo_config(tmp_path: Path) -> DemoConfig:
    (tmp_path / "product.yaml").write_text(
        "name: lakehouse-core\nowner: o\nteam: t\n"
        "topics:\n  events: {name: demo.events}\n  dead_letter: {name: demo.events.dlq}\n"
    )
    return load_config(DemoConfig, tmp_path, env_prefix="DEMO_")


def table_api(api_keys: dict[str, list[str]]) -> object:
    return create_table_api(
        service="web-user-analytics",
        version="0",
        description="",
        served=(),
        lake_root="/nowhere",
        api_keys=api_keys,
        cache=QueryCache(),
    )


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_an_api_without_keys_refuses_to_start_outside_dev(
    environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_ENVIRONMENT", environment)
    with pytest.raises(ConfigError, match=rf"open to anyone in {environment}: set WEB_API_KEYS"):
        table_api({})
    assert table_api({"k": ["analyst"]}) is not None


def test_an_api_without_keys_starts_in_dev_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LAKEHOUSE_ENVIRONMENT", "dev")
    with caplog.at_level(logging.WARNING):
        table_api({})
    assert "analytics routes are open to anyone" in caplog.text
    assert "WEB_API_KEYS" in caplog.text


def test_an_unknown_environment_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="'production' is not an environment"):
        table_api({})


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_a_collector_without_write_keys_refuses_to_start_outside_dev(
    environment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = demo_config(tmp_path)
    monkeypatch.setenv("LAKEHOUSE_ENVIRONMENT", environment)
    with pytest.raises(ConfigError, match="set DEMO_COLLECTOR__WRITE_KEYS"):
        product_collector_app(config, config.collector, bootstrap_servers="127.0.0.1:1")


def test_a_collector_without_write_keys_starts_in_dev_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = demo_config(tmp_path)
    monkeypatch.setenv("LAKEHOUSE_ENVIRONMENT", "dev")
    with caplog.at_level(logging.WARNING):
        product_collector_app(config, config.collector, bootstrap_servers="127.0.0.1:1")
    assert "no write keys" in caplog.text
    assert "DEMO_COLLECTOR__WRITE_KEYS" in caplog.text


PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", (), "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", PROXIES, "203.0.113.9"),
        ("10.0.0.5", "1.2.3.4", (), "10.0.0.5"),
        ("10.0.0.5", "198.51.100.7", PROXIES, "198.51.100.7"),
        ("10.0.0.5", "1.2.3.4, 198.51.100.7", PROXIES, "198.51.100.7"),
        ("10.0.0.5", "1.2.3.4, 198.51.100.7, 10.1.1.1", PROXIES, "198.51.100.7"),
        ("10.0.0.5", "10.9.9.9, 10.1.1.1", PROXIES, "10.9.9.9"),
        ("10.0.0.5", "1.2.3.4, not-an-ip, 10.1.1.1", PROXIES, "10.1.1.1"),
        ("10.0.0.5", None, PROXIES, "10.0.0.5"),
        ("fd00::1", "2001:db8::7", PROXIES, "2001:db8::7"),
        (None, "1.2.3.4", PROXIES, None),
    ],
)
def test_x_forwarded_for_counts_only_from_trusted_proxies(
    peer: str | None,
    forwarded: str | None,
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
    expected: str | None,
) -> None:
    assert client_address(peer, forwarded, trusted) == expected


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert CollectorSettings(trusted_proxies=["10.0.0.0/8", "192.0.2.1"]).trusted_proxies
    with pytest.raises(ValueError, match=r"'proxy\.local' is not an IP address or CIDR network"):
        CollectorSettings(trusted_proxies=["proxy.local"])
