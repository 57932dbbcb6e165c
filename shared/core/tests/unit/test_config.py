from pathlib import Path

import pytest
from pydantic import Field, SecretStr

from lakehouse_core.config import ProductConfig, TopicConfig, deep_merge, load_config
from lakehouse_core.errors import ConfigError

pytestmark = pytest.mark.unit


class DemoConfig(ProductConfig):
    api_key: SecretStr | None = None
    api_keys: dict[str, list[str]] = Field(default_factory=dict, json_schema_extra={"secret": True})
    batch_size: int = 100


def write_config(root: Path, base: str, overlays: dict[str, str] | None = None) -> Path:
    (root / "environments").mkdir(parents=True)
    (root / "product.yaml").write_text(base)
    for env, text in (overlays or {}).items():
        (root / "environments" / f"{env}.yaml").write_text(text)
    return root


BASE = """
name: demo
owner: data-team@example.com
team: analytics
batch_size: 100
serving: {host: 0.0.0.0, port: 8001}
topics:
  events: {name: demo.events.v1, partitions: 6}
"""


def test_overlay_merges_nested_keys(tmp_path: Path) -> None:
    root = write_config(tmp_path, BASE, {"prod": "serving: {port: 9000}\nbatch_size: 5000\n"})
    config = load_config(DemoConfig, root, env_prefix="DEMO_", environment="prod")
    assert config.batch_size == 5000
    assert config.serving.port == 9000
    assert config.serving.host == "0.0.0.0"
    assert config.topics["events"].partitions == 6


def test_environment_variables_win_over_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_config(tmp_path, BASE, {"dev": "batch_size: 7\n"})
    monkeypatch.setenv("DEMO_BATCH_SIZE", "42")
    monkeypatch.setenv("DEMO_SERVING__PORT", "8123")
    config = load_config(DemoConfig, root, env_prefix="DEMO_", environment="dev")
    assert config.batch_size == 42
    assert config.serving.port == 8123
    assert config.serving.host == "0.0.0.0"


def test_invalid_value_names_the_key_and_file(tmp_path: Path) -> None:
    root = write_config(tmp_path, BASE, {"staging": "serving: {port: not-a-port}\n"})
    with pytest.raises(ConfigError, match=r"serving\.port") as error:
        load_config(DemoConfig, root, env_prefix="DEMO_", environment="staging")
    assert "staging.yaml" in str(error.value)


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    root = write_config(tmp_path, BASE + "batch_sise: 3\n")
    with pytest.raises(ConfigError, match="batch_sise"):
        load_config(DemoConfig, root, env_prefix="DEMO_", environment="dev")


def test_secret_in_a_file_is_refused_but_read_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leaky = write_config(tmp_path / "leaky", BASE + "api_key: hunter2\n")
    with pytest.raises(ConfigError, match="api_key: secrets are read from the environment only"):
        load_config(DemoConfig, leaky, env_prefix="DEMO_", environment="dev")
    clean = write_config(tmp_path / "clean", BASE)
    monkeypatch.setenv("DEMO_API_KEY", "s3cr3t")
    config = load_config(DemoConfig, clean, env_prefix="DEMO_", environment="dev")
    assert config.api_key is not None
    assert config.api_key.get_secret_value() == "s3cr3t"


def test_missing_base_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"product\.yaml: missing"):
        load_config(DemoConfig, tmp_path, env_prefix="DEMO_", environment="dev")


def test_deep_merge_replaces_lists_and_merges_mappings() -> None:
    merged = deep_merge({"a": {"x": 1, "y": [1, 2]}, "b": 1}, {"a": {"y": [3]}, "c": 2})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}


def test_field_marked_secret_is_refused_in_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    leaky = write_config(tmp_path / "leaky", BASE + "api_keys: {k1: [analyst]}\n")
    with pytest.raises(ConfigError, match="api_keys: secrets are read from the environment only"):
        load_config(DemoConfig, leaky, env_prefix="DEMO_", environment="dev")
    clean = write_config(tmp_path / "clean", BASE)
    monkeypatch.setenv("DEMO_API_KEYS", '{"k1": ["analyst", "user_reader"]}')
    config = load_config(DemoConfig, clean, env_prefix="DEMO_", environment="dev")
    assert config.api_keys == {"k1": ["analyst", "user_reader"]}


def test_a_schedule_is_a_five_field_cron_string(tmp_path: Path) -> None:
    hourly = write_config(tmp_path / "hourly", BASE + 'schedule: "0 * * * *"\n')
    assert load_config(DemoConfig, hourly, env_prefix="DEMO_", environment="dev").schedule == "0 * * * *"
    assert (
        load_config(
            DemoConfig, write_config(tmp_path / "none", BASE), env_prefix="DEMO_", environment="dev"
        ).schedule
        is None
    )
    wrong = write_config(tmp_path / "wrong", BASE + 'schedule: "hourly"\n')
    with pytest.raises(ConfigError, match=r"schedule.*not a cron string of five fields"):
        load_config(DemoConfig, wrong, env_prefix="DEMO_", environment="dev")


def test_a_topic_is_created_with_its_retention_and_segment_roll_only_when_set() -> None:
    bounded = TopicConfig(name="web.events.v1", retention_ms=604_800_000, segment_ms=86_400_000)

    assert bounded.kafka_config() == {"retention.ms": "604800000", "segment.ms": "86400000"}
    assert TopicConfig(name="t", retention_ms=1000).kafka_config() == {"retention.ms": "1000"}
    assert TopicConfig(name="t").kafka_config() == {}
