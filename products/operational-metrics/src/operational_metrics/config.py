"""operational-metrics' configuration: ``config/product.yaml``, its environment overlay, and
``OPS_*`` environment variables (which win). Secrets come only from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from lakehouse_core.config import ProductConfig, load_config, product_config_dir

ENV_PREFIX = "OPS_"
#: ``config/`` of a source checkout (an installed wheel carries it as ``product_config/``).
SOURCE_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


class OpsConfig(ProductConfig):
    api_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        json_schema_extra={"secret": True},
        description="API key → roles ('operator'); from OPS_API_KEYS (JSON) only.",
    )


def load_ops_config(config_dir: Path | None = None) -> OpsConfig:
    """The configuration from ``config_dir``, or from where :func:`product_config_dir` finds it."""
    located = config_dir or product_config_dir(
        "operational_metrics", env_prefix=ENV_PREFIX, source_dir=SOURCE_CONFIG_DIR
    )
    return load_config(OpsConfig, located, env_prefix=ENV_PREFIX)
