"""The gateway's configuration: ``gateway.yaml`` beside this module, ``LAKEHOUSE_GATEWAY_*``
variables winning (e.g. ``LAKEHOUSE_GATEWAY_PORT=8700``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from lakehouse_core.config import read_yaml
from lakehouse_core.settings import LakehouseSettings

DEFAULTS = Path(__file__).with_name("gateway.yaml")
SERVICE = "lakehouse-gateway"

ADMIN = "admin"
#: The role whose keys receive pseudonymous ids (the catalog's subject columns) through the gateway.
SUBJECT_READER = "user_reader"


class GatewayConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_GATEWAY_", extra="forbid")

    host: str = Field(description="Address to listen on; 127.0.0.1 keeps a dev gateway local.")
    port: int = Field(ge=1, le=65535)
    keys_file: Path = Field(
        default=Path(), description="The key store; default <state_dir>/gateway/api_keys.json."
    )
    key_validity_days: int = Field(ge=1, description="How long a new key is valid unless told.")
    requests_per_minute: int = Field(ge=1, description="A new key's quota per minute unless told.")
    requests_per_day: int = Field(ge=1, description="A new key's quota per UTC day unless told.")
    roles: dict[str, str] = Field(description="Every role a key may hold, with what it reads.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from pydantic_settings import InitSettingsSource

        return init_settings, env_settings, InitSettingsSource(settings_cls, read_yaml(DEFAULTS))

    def store_path(self, settings: LakehouseSettings) -> Path:
        return (
            self.keys_file if self.keys_file != Path() else settings.state_dir / "gateway" / "api_keys.json"
        )


def load_gateway_config() -> GatewayConfig:
    return GatewayConfig()  # type: ignore[call-arg]  # gateway.yaml gives every required field
