"""mobile-user-analytics' configuration: ``config/product.yaml``, its environment overlay, and
``MOBILE_*`` environment variables (which win). Secrets come only from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from lakehouse_core.config import CollectorSettings, ProductConfig, load_config, product_config_dir
from lakehouse_events.segment import EventTimeWindow

ENV_PREFIX = "MOBILE_"
#: ``config/`` of a source checkout (an installed wheel carries it as ``product_config/``).
SOURCE_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


class SessionConfig(BaseModel):
    inactivity_minutes: int = Field(
        default=30, ge=1, description="Inactivity or background time that ends a session."
    )


class MobileConfig(ProductConfig):
    sessions: SessionConfig = Field(default_factory=SessionConfig)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    pseudonymisation_key: SecretStr | None = Field(
        default=None, description="HMAC key for device and user ids; from MOBILE_PSEUDONYMISATION_KEY only."
    )
    max_quarantine_fraction: float = Field(default=0.5, gt=0, le=1)
    event_time: EventTimeWindow = Field(default_factory=EventTimeWindow)
    api_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        json_schema_extra={"secret": True},
        description="API key → roles ('analyst', 'device_reader'); from MOBILE_API_KEYS (JSON) only.",
    )


def load_mobile_config(config_dir: Path | None = None) -> MobileConfig:
    """The configuration from ``config_dir``, or from where :func:`product_config_dir` finds it."""
    located = config_dir or product_config_dir(
        "mobile_user_analytics", env_prefix=ENV_PREFIX, source_dir=SOURCE_CONFIG_DIR
    )
    return load_config(MobileConfig, located, env_prefix=ENV_PREFIX)
