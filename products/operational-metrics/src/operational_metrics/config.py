"""operational-metrics' configuration: ``config/product.yaml``, its environment overlay, and
``OPS_*`` environment variables (which win). Secrets come only from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from lakehouse_core.config import ProductConfig, load_config, product_config_dir

ENV_PREFIX = "OPS_"
#: ``config/`` of a source checkout (an installed wheel carries it as ``product_config/``).
SOURCE_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


class CostRates(BaseModel):
    """What a run is priced at (docs/METRICS.md, "Cost"): its own CPU time per core-hour, its
    peak memory held for its duration per GB-hour, and the bytes it wrote stored for a month."""

    model_config = ConfigDict(extra="forbid")

    core_hour: float = Field(default=0.05, ge=0, description="Price of one CPU core for one hour.")
    gb_hour_memory: float = Field(default=0.005, ge=0, description="Price of 1 GB of memory for one hour.")
    gb_month_storage: float = Field(default=0.023, ge=0, description="Price of storing 1 GB for a month.")


class AnomalyConfig(BaseModel):
    """The seasonal baseline anomalies are scored against (docs/METRICS.md, "Anomalies")."""

    model_config = ConfigDict(extra="forbid")

    training_weeks: int = Field(
        default=4, ge=1, le=52, description="Weeks of earlier runs (same weekday and hour) in the baseline."
    )
    min_training_runs: int = Field(
        default=3, ge=2, description="Fewer earlier runs in the baseline than this: the run is not scored."
    )
    threshold: float = Field(default=3.5, gt=0, description="|robust z| above which a run is an anomaly.")
    min_relative_spread: float = Field(
        default=0.05,
        ge=0,
        description="Floor of the spread as a share of |median|, so a perfectly steady baseline "
        "(MAD 0) does not flag every tiny change.",
    )


class OpsConfig(ProductConfig):
    cost: CostRates = Field(default_factory=CostRates)
    anomalies: AnomalyConfig = Field(default_factory=AnomalyConfig)
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
