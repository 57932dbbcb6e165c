"""The cost rates and anomaly parameters are validated when the configuration loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lakehouse_core.errors import ConfigError
from operational_metrics.config import SOURCE_CONFIG_DIR, load_ops_config

pytestmark = pytest.mark.unit


def config_with(tmp_path: Path, **overrides: object) -> Path:
    product = yaml.safe_load((SOURCE_CONFIG_DIR / "product.yaml").read_text())
    (tmp_path / "product.yaml").write_text(yaml.safe_dump({**product, **overrides}))
    return tmp_path


def test_the_shipped_configuration_prices_a_core_hour_and_a_gb_month() -> None:
    config = load_ops_config(SOURCE_CONFIG_DIR)

    assert (config.cost.core_hour, config.cost.gb_month_storage) == (0.05, 0.023)
    assert config.anomalies.training_weeks == 4


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cost": {"core_hour": -0.05}}, "cost.core_hour"),
        ({"cost": {"core_hours": 0.05}}, "cost.core_hours"),
        ({"anomalies": {"training_weeks": 0}}, "anomalies.training_weeks"),
        ({"anomalies": {"min_training_runs": 1}}, "anomalies.min_training_runs"),
    ],
)
def test_a_negative_rate_an_unknown_key_or_an_empty_baseline_is_refused(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_ops_config(config_with(tmp_path, **overrides))
