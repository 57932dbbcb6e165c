"""Platform-wide settings: where the lake, the jars and the local state live, and how to reach
Spark and Kafka. Every field can be set through a ``LAKEHOUSE_<FIELD>`` environment variable,
so the same code runs on a laptop, in CI and on a cluster by configuration only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["dev", "staging", "prod"]
LineageTransport = Literal["file", "kafka", "http", "none"]

_ROOT_MARKER = Path("infrastructure") / "jvm" / "pom.xml"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) that holds the
    platform's JVM manifest; the working directory itself when none does (e.g. in a container)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / _ROOT_MARKER).is_file():
            return folder
    return here


class LakehouseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_", extra="ignore")

    home: Path = Field(default_factory=find_project_root)
    environment: Environment = "dev"
    lake_root: str = Field(default="", description="Local path or object-store URI of the lake.")
    state_dir: Path = Field(default=Path(), description="Local services' data, pids and logs.")
    jars_dir: Path = Field(default=Path(), description="JVM artefacts laid out by `make setup`.")
    backup_root: Path = Field(
        default=Path(),
        description="Where `lakehouse backup create` copies the lake's tables; default <state_dir>/backups. "
        "Keep it on another disk than the lake.",
    )

    spark_master: str = "local[*]"
    spark_driver_memory: str = "2g"
    spark_shuffle_partitions: int = Field(default=4, ge=1)
    spark_codegen: bool = Field(
        default=True,
        description="Spark's code generation (whole-stage and per expression). Off where the "
        "data are tiny (the test suite): compiling a large plan's generated code then costs "
        "more than running the plan interpreted.",
    )

    kafka_bootstrap_servers: str = Field(default="", description="Defaults to the local broker.")
    kafka_port: int = Field(default=9092, ge=1, le=65535, description="Local broker's client port.")
    kafka_controller_port: int = Field(default=9093, ge=1, le=65535)
    kafka_heap: str = "512m"

    connect_port: int = Field(default=8083, ge=1, le=65535, description="Local Kafka Connect's REST port.")
    connect_heap: str = "512m"
    connect_url: str = Field(
        default="", description="Kafka Connect's REST API; defaults to the local worker."
    )

    postgres_port: int = Field(
        default=5442,
        ge=1,
        le=65535,
        description="Local PostgreSQL's port (not 5432, where a Debian cluster may run).",
    )
    postgres_user: str = Field(default="lakehouse", description="Local PostgreSQL's superuser.")
    postgres_database: str = Field(default="operational", description="The operational app's database.")
    postgres_bin_dir: Path | None = Field(
        default=None,
        description="Folder of initdb/pg_ctl/postgres; default the newest /usr/lib/postgresql/*/bin.",
    )
    postgres_os_user: str = Field(
        default="postgres",
        description="The unprivileged system user PostgreSQL runs as when the stack is started as root.",
    )

    audit_bootstrap_servers: str = Field(
        default="",
        description="Kafka that services publish their audit records (platform.audit.v1) to; "
        "empty: they publish none.",
    )
    api_key_fingerprint_secret: SecretStr = Field(
        default=SecretStr(""), description="Keys the fingerprint of API keys in audit records."
    )
    subject_key: SecretStr | None = Field(
        default=None,
        description="The platform's HMAC key of user ids: a person's subject_key in every product's "
        "tables. From LAKEHOUSE_SUBJECT_KEY only; required outside dev.",
    )

    lineage_transport: LineageTransport = Field(
        default="file",
        description="Where OpenLineage run events go: file (JSON lines at lineage_file), kafka "
        "(lineage_topic on the platform's Kafka, spooled while it is down), http (an OpenLineage "
        "API at lineage_url, e.g. Marquez) or none.",
    )
    lineage_file: Path = Field(
        default=Path(),
        description="JSON-lines file of the file transport; default <state_dir>/lineage/events.jsonl.",
    )
    lineage_topic: str = Field(default="platform.lineage.v1", description="Topic of the kafka transport.")
    lineage_url: str = Field(
        default="",
        description="Base URL of the OpenLineage API of the http transport (POST <url>/api/v1/lineage).",
    )

    @model_validator(mode="after")
    def _resolve_defaults(self) -> LakehouseSettings:
        self.home = self.home.resolve()
        if not self.lake_root:
            self.lake_root = str(self.home / "data_lake")
        if self.state_dir == Path():
            self.state_dir = self.home / ".lakehouse" / "state"
        if self.backup_root == Path():
            self.backup_root = self.state_dir / "backups"
        if self.lineage_file == Path():
            self.lineage_file = self.state_dir / "lineage" / "events.jsonl"
        if not self.kafka_bootstrap_servers:
            self.kafka_bootstrap_servers = f"127.0.0.1:{self.kafka_port}"
        if not self.connect_url:
            self.connect_url = f"http://127.0.0.1:{self.connect_port}"
        if self.jars_dir == Path():
            self.jars_dir = self.home / ".lakehouse" / "jars"
        return self


def get_settings() -> LakehouseSettings:
    """Settings as the environment defines them now."""
    return LakehouseSettings()
