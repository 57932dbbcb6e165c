"""compliance-auditing's configuration: ``config/product.yaml``, its environment overlay, and
``COMPLIANCE_*`` environment variables (which win). Secrets come only from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from lakehouse_core.config import ProductConfig, load_config, product_config_dir

ENV_PREFIX = "COMPLIANCE_"
#: ``config/`` of a source checkout (an installed wheel carries it as ``product_config/``).
SOURCE_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
#: The environment variable of the certificates' signing key.
SIGNING_KEY_VARIABLE = "COMPLIANCE_CERTIFICATE_KEY"
#: The signing key in dev when :data:`SIGNING_KEY_VARIABLE` is not set. Everyone knows it, so
#: staging and prod refuse to sign with it.
DEVELOPMENT_SIGNING_KEY = "local-development-certificate-key"


class ErasureConfig(BaseModel):
    deadline_hours: int = Field(
        default=72, ge=1, description="A request not completed this long after it was made is late."
    )


class AccessConfig(BaseModel):
    deadline_hours: int = Field(
        default=720,
        ge=1,
        description="An access request not answered this long after it was made is late (GDPR: one month).",
    )


class UnusualAccessConfig(BaseModel):
    """When a key's reads of people are unusual: more distinct subjects in a day than ``factor``
    times its median day over the ``baseline_days`` before, and never fewer than ``min_subjects``
    (so a key that reads two people a day is not flagged for reading eleven)."""

    baseline_days: int = Field(default=28, ge=1, le=366)
    factor: float = Field(default=5.0, gt=1.0)
    min_subjects: int = Field(default=20, ge=1)


class ComplianceConfig(ProductConfig):
    api_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        json_schema_extra={"secret": True},
        description="API key → roles ('privacy_officer', 'auditor'); from COMPLIANCE_API_KEYS (JSON) only.",
    )
    certificate_key: SecretStr | None = Field(
        default=None,
        json_schema_extra={"secret": True},
        description=f"HMAC key that signs erasure certificates; from {SIGNING_KEY_VARIABLE} only.",
    )
    erasure: ErasureConfig = Field(default_factory=ErasureConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    unusual_access: UnusualAccessConfig = Field(default_factory=UnusualAccessConfig)


def load_compliance_config(config_dir: Path | None = None) -> ComplianceConfig:
    """The configuration from ``config_dir``, or from where :func:`product_config_dir` finds it."""
    located = config_dir or product_config_dir(
        "compliance_auditing", env_prefix=ENV_PREFIX, source_dir=SOURCE_CONFIG_DIR
    )
    return load_config(ComplianceConfig, located, env_prefix=ENV_PREFIX)
