"""Table definitions: a table's name, layer, location, partitioning and properties, declared once.

Products declare their tables as :class:`TableSpec` values in their ``storage`` package; jobs
and the serving layer resolve locations through :meth:`TableSpec.location`, so a table's path
is written in exactly one place. The same declaration carries what the platform's catalog shows:
the columns that identify a person, retention, a freshness SLA, upstream tables and the schema
version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from lakehouse_core.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pyspark.sql.types import StructType


class Layer(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    QUARANTINE = "quarantine"


class SubjectKind(StrEnum):
    """How a column identifies a person, so erasure and segmentation find them everywhere."""

    SUBJECT_KEY = "subject_key"
    """Keyed HMAC of the user id: the same person has the same key in every table."""
    PSEUDONYMOUS_ID = "pseudonymous_id"
    """Keyed HMAC of an id that is not (only) the user id: an anonymous id, a previous id."""
    DEVICE_ID = "device_id"
    """Keyed HMAC of a device id (else of the anonymous id)."""
    USER_ID = "user_id"
    """An id as the source sent it (userId, else anonymousId), not pseudonymised."""
    IP = "ip"
    """An IP address or a truncated network of one."""
    FREE_TEXT = "free_text"
    """Text that may hold personal data: raw payloads, properties and traits, URLs."""


@dataclass(frozen=True)
class Retention:
    """Rows are kept ``days`` days, counted on ``date_column`` (a business date or timestamp)."""

    days: int
    date_column: str


@dataclass(frozen=True)
class Freshness:
    """The table's freshness SLA: minutes since its newest data before a warning, and a breach."""

    warn_minutes: int
    breach_minutes: int


#: Default retention by what a table holds: raw payloads long enough to replay a quarter,
#: pseudonymised rows 13 months (a year-over-year comparison), aggregates without personal data
#: five years.
RAW_RETENTION_DAYS = 90
PSEUDONYMOUS_RETENTION_DAYS = 395
AGGREGATE_RETENTION_DAYS = 1825

#: The freshness SLA a table of each layer gets unless it declares its own.
LAYER_FRESHNESS: Mapping[Layer, Freshness] = {
    Layer.BRONZE: Freshness(warn_minutes=15, breach_minutes=60),
    Layer.QUARANTINE: Freshness(warn_minutes=60, breach_minutes=240),
    Layer.SILVER: Freshness(warn_minutes=60, breach_minutes=240),
    Layer.GOLD: Freshness(warn_minutes=120, breach_minutes=360),
}


@dataclass(frozen=True)
class ConfiguredTopic:
    """An upstream Kafka topic named in the product's configuration under ``topics.<key>``;
    the catalog resolves it to ``kafka:<name>`` from the loaded configuration, so the topic's
    name stays written only in ``product.yaml``."""

    key: str

    def __str__(self) -> str:
        return f"kafka:<topics.{self.key}>"


#: An upstream: a table's qualified name (``<product>.<layer>.<table>``), ``kafka:<topic>``,
#: or a topic of the product's configuration.
Upstream = str | ConfiguredTopic

#: The prefix of an upstream that is a Kafka topic.
KAFKA_UPSTREAM = "kafka:"


#: Properties every table gets: readable by delta-rs' pyarrow path (no deletion vectors, no
#: column mapping) and with a change feed for incremental consumers.
DEFAULT_TABLE_PROPERTIES: Mapping[str, str] = {
    "delta.enableDeletionVectors": "false",
    "delta.enableChangeDataFeed": "true",
}


def join_location(root: str, *parts: str) -> str:
    """Join a lake root (a local path or an object-store URI) with relative parts."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


def local_path(location: str) -> str | None:
    """The filesystem path of a local location (a path or a ``file://`` URI); None for object
    storage."""
    if location.startswith("file://"):
        return location.removeprefix("file://")
    return None if "://" in location else location


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    """Where a table lives, how it is laid out and what the catalog says about it.

    ``schema`` comes from the product contract (``contract``, the pydantic model, gives the
    columns' descriptions). ``schema_version`` is bumped on a breaking change of the schema
    (a dropped column, a narrowed or changed type, a nullable column made required).
    """

    name: str
    layer: Layer
    product: str
    schema: StructType
    partition_by: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    contract: type[BaseModel] | None = None
    schema_version: int = 1
    subject_columns: Mapping[str, SubjectKind] = field(default_factory=dict)
    retention: Retention | None = None
    freshness: Freshness | None = None
    upstream: tuple[Upstream, ...] = ()

    def __post_init__(self) -> None:
        columns = set(self.schema.fieldNames())
        named = [*self.subject_columns, *([self.retention.date_column] if self.retention else [])]
        unknown = sorted(c for c in named if c not in columns)
        if unknown:
            raise ConfigError(
                f"{self.qualified_name}: {', '.join(unknown)} named in the declaration but not a "
                f"column of the table ({', '.join(self.schema.fieldNames())})"
            )
        if self.schema_version < 1:
            raise ConfigError(f"{self.qualified_name}: schema_version must be 1 or more")
        if self.retention is not None and self.retention.days < 1:
            raise ConfigError(f"{self.qualified_name}: retention must be at least one day")
        if (
            self.freshness is not None
            and not 0 < self.freshness.warn_minutes <= self.freshness.breach_minutes
        ):
            raise ConfigError(
                f"{self.qualified_name}: freshness needs 0 < warn_minutes <= breach_minutes, got "
                f"{self.freshness.warn_minutes} and {self.freshness.breach_minutes}"
            )

    @property
    def qualified_name(self) -> str:
        return f"{self.product}.{self.layer.value}.{self.name}"

    def location(self, lake_root: str) -> str:
        return join_location(lake_root, self.layer.value, self.product, self.name)

    def table_properties(self) -> dict[str, str]:
        return {**DEFAULT_TABLE_PROPERTIES, **self.properties}


def checkpoint_location(lake_root: str, product: str, job: str) -> str:
    """Where a streaming job keeps its checkpoint: next to the tables, so it moves with them."""
    return join_location(lake_root, "_checkpoints", product, job)


def declare_table(
    product: str,
    name: str,
    layer: Layer,
    model: type[BaseModel],
    partition: str | None,
    *,
    upstream: tuple[Upstream, ...],
    retention: Retention | None = None,
    subject_columns: Mapping[str, SubjectKind] | None = None,
) -> TableSpec:
    """A product's table from its contract: schema, description and catalog metadata in one
    call, with the layer's freshness SLA. A partitioned table that declares no retention keeps
    its rows :data:`AGGREGATE_RETENTION_DAYS` by its partition column."""
    from lakehouse_core.contracts import spark_schema

    if retention is None and partition is not None:
        retention = Retention(AGGREGATE_RETENTION_DAYS, partition)
    return TableSpec(
        name=name,
        layer=layer,
        product=product,
        schema=spark_schema(model),
        partition_by=(partition,) if partition else (),
        description=model.__doc__ or "",
        contract=model,
        subject_columns=dict(subject_columns or {}),
        retention=retention,
        freshness=LAYER_FRESHNESS[layer],
        upstream=upstream,
    )
