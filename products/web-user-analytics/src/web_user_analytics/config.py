"""web-user-analytics' configuration: ``config/product.yaml``, its environment overlay, and
``WEB_*`` environment variables (which win). Secrets come only from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator

from lakehouse_core.config import CollectorSettings, ProductConfig, load_config, product_config_dir
from lakehouse_events.segment import EventTimeWindow

ENV_PREFIX = "WEB_"
#: ``config/`` of a source checkout (an installed wheel carries it as ``product_config/``).
SOURCE_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


class FunnelConfig(BaseModel):
    """A funnel: steps in order, each one event name or page path or a list of alternatives.

    A session reaches a step with an event matching any of its alternatives (a track event by
    name, a page view by path). With ``window_minutes``, a later step counts only when it happens
    at most that many minutes after the session first reached step 1; without it, anywhere later
    in the session.
    """

    name: str
    steps: list[list[str]] = Field(
        min_length=2,
        description="In order; each an event name (track) or page path, or a list of alternatives.",
    )
    window_minutes: int | None = Field(
        default=None, ge=1, description="Later steps count only this long after step 1 (same session)."
    )

    @field_validator("steps", mode="before")
    @classmethod
    def _alternatives(cls, steps: object) -> object:
        if isinstance(steps, list):
            return [[step] if isinstance(step, str) else step for step in steps]
        return steps

    @field_validator("steps")
    @classmethod
    def _no_empty_step(cls, steps: list[list[str]]) -> list[list[str]]:
        for position, alternatives in enumerate(steps, start=1):
            if not alternatives or any(not a.strip() for a in alternatives):
                raise ValueError(f"step {position} needs at least one non-empty event name or page path")
        return steps

    @property
    def step_names(self) -> list[str]:
        """Each step's alternatives joined with `` | ``: the ``step_name`` of its gold rows."""
        return [" | ".join(alternatives) for alternatives in self.steps]


class SessionConfig(BaseModel):
    inactivity_minutes: int = Field(default=30, ge=1)


class WebConfig(ProductConfig):
    sessions: SessionConfig = Field(default_factory=SessionConfig)
    funnels: list[FunnelConfig] = Field(default_factory=list)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    pseudonymisation_key: SecretStr | None = Field(
        default=None, description="HMAC key for user ids; from WEB_PSEUDONYMISATION_KEY only."
    )
    max_quarantine_fraction: float = Field(default=0.5, gt=0, le=1)
    event_time: EventTimeWindow = Field(default_factory=EventTimeWindow)
    api_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        json_schema_extra={"secret": True},
        description="API key → roles ('analyst', 'user_reader'); from WEB_API_KEYS (JSON) only.",
    )


def load_web_config(config_dir: Path | None = None) -> WebConfig:
    """The configuration from ``config_dir``, or from where :func:`product_config_dir` finds it."""
    located = config_dir or product_config_dir(
        "web_user_analytics", env_prefix=ENV_PREFIX, source_dir=SOURCE_CONFIG_DIR
    )
    return load_config(WebConfig, located, env_prefix=ENV_PREFIX)
