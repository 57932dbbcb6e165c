"""Product configuration as data: ``config/product.yaml``, then the environment's overlay
``config/environments/<env>.yaml``, then environment variables, each layer winning over the last.

Validation is pydantic's; an invalid value raises :class:`ConfigError` naming the key and the
files read. Secrets (see :func:`is_secret`) are accepted only from the environment.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, cast, get_args

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lakehouse_core.errors import ConfigError
from lakehouse_core.settings import Environment

SettingsT = TypeVar("SettingsT", bound=BaseSettings)

ENVIRONMENT_VARIABLE = "LAKEHOUSE_ENVIRONMENT"

#: RudderStack's SDKs send batches of up to 4 MB (Segment's stop at 500 KB); a smaller limit
#: makes an SDK drop the whole batch on the 413.
DEFAULT_MAX_BATCH_BYTES = 4 * 1024 * 1024

log = logging.getLogger(__name__)


class TopicConfig(BaseModel):
    """A topic a product creates. ``retention_ms`` bounds how long a record stays readable, but
    Kafka deletes whole segments, so a record can outlive it by up to ``segment_ms`` (the
    broker's default is 7 days): topics that carry people's raw events set both."""

    name: str
    partitions: int = Field(default=3, ge=1)
    retention_ms: int | None = Field(default=None, ge=1)
    segment_ms: int | None = Field(default=None, ge=1)

    def kafka_config(self) -> dict[str, str]:
        """The topic-level configuration to create the topic with."""
        settings = {"retention.ms": self.retention_ms, "segment.ms": self.segment_ms}
        return {name: str(value) for name, value in settings.items() if value is not None}


#: The description of a service's ``workers`` setting.
WORKERS_DESCRIPTION = (
    "Worker processes serving the one port (forked, sharing its socket); more than the machine's "
    "cores only adds memory. Beyond one machine: replicas behind the gateway or an Ingress."
)


class ServingConfig(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description=WORKERS_DESCRIPTION)


class SensorConfig(BaseModel):
    """When the orchestrator runs the product's assets because new data arrived, not on the clock."""

    on_new_records: bool = Field(
        default=True,
        description="Run when a Kafka topic the product's tables read from has records it has "
        "not seen (the topics come from the catalog's lineage). The sensor starts stopped.",
    )
    minimum_interval_seconds: int = Field(
        default=60, ge=10, description="Seconds between two looks at the topics' offsets."
    )


class CollectorSettings(BaseModel):
    """Where a product's event collector listens, and the write keys it accepts (from the
    environment only, e.g. ``WEB_COLLECTOR__WRITE_KEYS='["key"]'``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description=WORKERS_DESCRIPTION)
    write_keys: list[SecretStr] = Field(default_factory=list)
    max_batch_bytes: int = Field(
        default=DEFAULT_MAX_BATCH_BYTES,
        ge=32 * 1024,
        description="Largest /v1/batch body accepted, compressed or decompressed; larger is a 413.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="IPs or CIDR networks of the proxies whose X-Forwarded-For is believed; "
        "empty: the header is ignored and the peer address is the client's.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not an IP address or CIDR network") from exc
        return values


class ProductConfig(BaseSettings):
    """What every product's ``product.yaml`` declares; products subclass it with their own
    sections (quality rules, schedules, funnels...)."""

    name: str
    owner: str
    team: str
    description: str = ""
    topics: dict[str, TopicConfig] = Field(default_factory=dict)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    schedule: str | None = Field(
        default=None,
        description="When the orchestrator runs the product's assets: a cron string of five "
        "fields, in UTC; unset, every 15 minutes (the schedule starts stopped).",
    )

    sensor: SensorConfig = Field(default_factory=SensorConfig)

    @field_validator("schedule")
    @classmethod
    def _five_cron_fields(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"{value!r} is not a cron string of five fields (minute hour day month weekday)")
        return value


def current_environment() -> Environment:
    """The deployment environment named by ``LAKEHOUSE_ENVIRONMENT`` (default ``dev``)."""
    value = os.environ.get(ENVIRONMENT_VARIABLE, "dev")
    if value not in get_args(Environment):
        raise ConfigError(
            f"{ENVIRONMENT_VARIABLE}={value!r} is not an environment; "
            f"use one of {', '.join(get_args(Environment))}"
        )
    return cast("Environment", value)


def env_variable(config: BaseSettings, *path: str) -> str:
    """The environment variable that sets ``path`` of ``config`` (e.g. ``WEB_COLLECTOR__WRITE_KEYS``),
    from the prefix :func:`load_config` read it with; ``<PRODUCT>_`` when it is unknown."""
    prefix = str(type(config).model_config.get("env_prefix") or "<PRODUCT>_")
    return prefix + "__".join(p.upper() for p in path)


def require_outside_dev(
    configured: bool, *, what: str, variable: str, environment: Environment | None = None
) -> None:
    """Refuse to start (:class:`ConfigError`) in ``staging`` and ``prod`` when ``configured`` is
    false; in ``dev`` log a warning, since local development runs without secrets."""
    if configured:
        return
    env = environment or current_environment()
    if env != "dev":
        raise ConfigError(f"{what} in {env}: set {variable} ({ENVIRONMENT_VARIABLE}={env})")
    log.warning("%s: allowed in dev only; set %s before deploying", what, variable)


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``overlay`` on top of ``base``; nested mappings merge, everything else is replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def product_config_dir(package: str, *, env_prefix: str, source_dir: Path) -> Path:
    """Where a product's ``product.yaml`` and ``environments/`` live.

    ``<env_prefix>CONFIG_DIR`` wins (a mounted ConfigMap, say); then the copy shipped inside
    the installed package (``<package>/product_config``, put there by the wheel build); then
    ``source_dir``, the product's ``config/`` folder in a source checkout.
    """
    from importlib.resources import files

    override = os.environ.get(f"{env_prefix}CONFIG_DIR")
    if override:
        return Path(override)
    shipped = Path(str(files(package) / "product_config"))
    if (shipped / "product.yaml").is_file():
        return shipped
    return source_dir


def config_files(config_dir: Path, environment: str) -> list[Path]:
    """The layers for ``environment``: the base file (required) and its overlay (if present)."""
    base = config_dir / "product.yaml"
    if not base.is_file():
        raise ConfigError(f"{base}: missing")
    overlay = config_dir / "environments" / f"{environment}.yaml"
    return [base, overlay] if overlay.is_file() else [base]


class _YamlLayers(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return self._data


def is_secret(info: FieldInfo) -> bool:
    """A field is secret when typed ``SecretStr`` (alone, optional or in a list) or marked
    ``Field(json_schema_extra={"secret": True})`` (e.g. a mapping of API keys to roles)."""
    extra = info.json_schema_extra
    if isinstance(extra, dict) and extra.get("secret") is True:
        return True
    return info.annotation in (SecretStr, SecretStr | None, list[SecretStr])


def _refuse_secrets_in_files(
    model: type[BaseModel], data: Mapping[str, Any], files: list[Path], prefix: str = ""
) -> None:
    for name, info in model.model_fields.items():
        if name not in data:
            continue
        if is_secret(info):
            raise ConfigError(
                f"{prefix}{name}: secrets are read from the environment only, "
                f"remove it from {', '.join(map(str, files))}"
            )
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel) and isinstance(data[name], Mapping):
            _refuse_secrets_in_files(nested, data[name], files, prefix=f"{prefix}{name}.")


def load_config(
    model: type[SettingsT],
    config_dir: Path,
    *,
    env_prefix: str,
    environment: Environment | None = None,
) -> SettingsT:
    """Load ``model`` from the YAML layers in ``config_dir`` and ``<env_prefix>...`` variables
    (nested keys joined by ``__``, e.g. ``WEB_SERVING__PORT=8080``)."""
    env = environment or os.environ.get(ENVIRONMENT_VARIABLE, "dev")
    files = config_files(config_dir, env)
    data: dict[str, Any] = {}
    for path in files:
        data = deep_merge(data, read_yaml(path))
    _refuse_secrets_in_files(model, data, files)

    class Layered(model):  # type: ignore[valid-type, misc]
        model_config = SettingsConfigDict(env_prefix=env_prefix, env_nested_delimiter="__", extra="forbid")

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, env_settings, _YamlLayers(settings_cls, data)

    Layered.__name__ = model.__name__
    try:
        return Layered()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '<root>'}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(
            f"invalid {model.__name__} ({env}) from {', '.join(map(str, files))} "
            f"and {env_prefix}* variables: {problems}"
        ) from exc
