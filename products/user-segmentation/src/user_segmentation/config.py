"""user-segmentation's configuration: ``config/product.yaml``, its environment overlay, and
``SEGMENTS_*`` environment variables (which win). Secrets come only from the environment.

The clustering section is checked here in full: its features must be ones
:data:`CLUSTERING_FEATURES` defines, and ``2 <= k_min <= k_max``.

Segment predicates are checked here for what needs no Spark (a name the API can route, a
non-empty predicate); :func:`user_segmentation.processing.segments.validate_segments` checks
them against the features schema with Spark's parser before any membership is computed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator

from lakehouse_core.config import ProductConfig, TopicConfig, load_config, product_config_dir
from lakehouse_core.sources.http_api import HttpApiSource
from lakehouse_core.tables import SubjectKind
from user_segmentation.contracts import PersonFeatures

ENV_PREFIX = "SEGMENTS_"
#: ``config/`` of a source checkout (an installed wheel carries it as ``product_config/``).
SOURCE_CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
SEGMENT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


class MergeLimit(BaseModel):
    """One product id may be linked to at most ``max_subjects`` subject keys whose first link to
    it falls within ``window_days`` days; the links past that are refused (docs/DESIGN.md)."""

    max_subjects: int = Field(ge=1)
    window_days: int = Field(ge=1)


class IdentityConfig(BaseModel):
    merge_limits: dict[SubjectKind, MergeLimit] = Field(
        default_factory=dict, description="The over-merge guard, per kind of linked id."
    )


DEFAULT_FUNNEL = ["Product Viewed", "Product Added", "Checkout Started", "Order Completed"]


class FeatureConfig(BaseModel):
    order_event: str = Field(
        default="Order Completed", description="The track event whose properties.revenue is monetary value."
    )
    funnel: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FUNNEL),
        description="The funnel's track event names, in order: funnel_stage_90d is the furthest one reached.",
    )

    @field_validator("funnel")
    @classmethod
    def _funnel_steps(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("the funnel is empty; name its track events in order")
        blank = [i + 1 for i, name in enumerate(value) if not name.strip()]
        if blank:
            raise ValueError(f"funnel steps {blank} are blank")
        repeated = sorted({name for name in value if value.count(name) > 1})
        if repeated:
            raise ValueError(f"the funnel names {', '.join(map(repr, repeated))} more than once")
        return value


class SegmentDefinition(BaseModel):
    predicate: str = Field(min_length=1, description="A Spark SQL boolean expression over the features.")
    description: str = ""

    @field_validator("predicate")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the predicate is blank")
        return " ".join(value.split())

    def definition_hash(self) -> str:
        """The first 16 hex digits of SHA-256 of the normalised predicate: a membership records
        the definition it was computed with, and a changed definition closes memberships."""
        return hashlib.sha256(self.predicate.encode()).hexdigest()[:16]


#: Features derived from ``platforms_90d`` for clustering (docs/METRICS.md), beside the numeric
#: columns of the person features.
DERIVED_FEATURES = {
    "web_90d": "1 when web is among platforms_90d, else 0",
    "mobile_90d": "1 when ios, android or other is among platforms_90d, else 0",
    "platform_count_90d": "the number of platforms in platforms_90d",
}
#: Every feature a clustering may use: the numeric person features and the derived ones.
CLUSTERING_FEATURES = (
    *(name for name, f in PersonFeatures.model_fields.items() if f.annotation in (int, float)),
    *DERIVED_FEATURES,
)


class ClusteringConfig(BaseModel):
    """k-means over standardised features of one as_of day, k chosen in ``k_min..k_max`` by
    silhouette (docs/DESIGN.md)."""

    features: list[str] = Field(min_length=1, description="Features to cluster on (CLUSTERING_FEATURES).")
    k_min: int = Field(default=2, description="Smallest k tried (at least 2).")
    k_max: int = Field(default=6, description="Largest k tried (at least k_min).")
    seed: int = Field(default=7, description="k-means' seed: the same features and seed give the same model.")
    max_iter: int = Field(default=30, ge=1, description="k-means' iteration limit per k.")

    @field_validator("features")
    @classmethod
    def _known_features(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in CLUSTERING_FEATURES]
        if unknown:
            raise ValueError(
                f"unknown clustering features {', '.join(map(repr, unknown))}; "
                f"the features are: {', '.join(CLUSTERING_FEATURES)}"
            )
        if len(set(value)) != len(value):
            raise ValueError(f"clustering features {value} name a feature twice")
        return value

    @model_validator(mode="after")
    def _k_range(self) -> ClusteringConfig:
        if self.k_min < 2:
            raise ValueError(f"k_min is {self.k_min}; k-means needs at least 2 clusters")
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) is greater than k_max ({self.k_max})")
        return self


#: The keys under ``topics`` of the captured tables' Debezium topics (derived from ``operational.cdc``).
CDC_TOPIC_KEYS = {"customers": "customers_changes", "orders": "orders_changes"}


class CdcConfig(BaseModel):
    """The operational database's customers and orders, as one Debezium connector on Kafka
    Connect captures them (``<topic_prefix>.<schema>.<table>`` topics). The database is the
    local stack's PostgreSQL (``LAKEHOUSE_POSTGRES_*``), Connect the stack's worker
    (``LAKEHOUSE_CONNECT_URL``); ``user-segmentation connector`` registers the connector."""

    enabled: bool = Field(default=True, description="Read the captured tables at all.")
    connector: str = Field(
        default="user-segmentation-operational", description="The Debezium connector's name on Connect."
    )
    topic_prefix: str = Field(default="operational", description="Debezium's topic.prefix.")
    host: str = Field(default="127.0.0.1", description="The database's host, as Connect reaches it.")
    port: int | None = Field(
        default=None, description="Its port; default the stack's (LAKEHOUSE_POSTGRES_PORT)."
    )
    database: str | None = Field(
        default=None, description="The database captured; default the stack's (LAKEHOUSE_POSTGRES_DATABASE)."
    )
    customers_table: str = "public.customers"
    orders_table: str = "public.orders"

    def topic(self, table: str) -> str:
        return f"{self.topic_prefix}.{table}"


class PaymentsConfig(BaseModel):
    """Payments from a paginated REST API (lakehouse_core.sources.http_api), landed in bronze
    once per payment id and update time and refined to silver."""

    enabled: bool = Field(default=False, description="Land the payments API at each run.")
    source: HttpApiSource
    amount_field: str = Field(default="amount", description="Dotted path to a payment's amount.")
    currency_field: str = Field(default="currency", description="Dotted path to its currency.")
    status_field: str = Field(default="status", description="Dotted path to its status.")
    succeeded_statuses: list[str] = Field(
        default_factory=lambda: ["succeeded"], description="Statuses of a payment that counts as paid."
    )


class OperationalConfig(BaseModel):
    """Sources beyond tracking: the operational database and the payments API."""

    cdc: CdcConfig = Field(default_factory=CdcConfig)
    payments: PaymentsConfig | None = None
    paid_order_statuses: list[str] = Field(
        default_factory=lambda: ["paid", "shipped", "delivered"],
        description="Statuses of an order whose amount counts as order value.",
    )


class SegmentationConfig(ProductConfig):
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    operational: OperationalConfig = Field(default_factory=OperationalConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    segments: dict[str, SegmentDefinition] = Field(default_factory=dict)
    clustering: ClusteringConfig | None = Field(
        default=None, description="ML segments (k-means); none are computed when absent."
    )
    api_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        json_schema_extra={"secret": True},
        description="API key → roles ('analyst', 'person_reader', 'identity_steward'); "
        "from SEGMENTS_API_KEYS (JSON) only.",
    )

    @model_validator(mode="after")
    def _cdc_topics(self) -> SegmentationConfig:
        """The captured tables' topics, written once as ``operational.cdc``'s prefix and tables,
        listed under ``topics`` so the catalog names them as the bronze table's upstream."""
        cdc = self.operational.cdc
        tables = {"customers": cdc.customers_table, "orders": cdc.orders_table}
        for name, key in CDC_TOPIC_KEYS.items():
            self.topics.setdefault(key, TopicConfig(name=cdc.topic(tables[name]), partitions=1))
        return self

    @field_validator("segments")
    @classmethod
    def _segment_names(cls, value: dict[str, SegmentDefinition]) -> dict[str, SegmentDefinition]:
        import re

        bad = [name for name in value if not re.match(SEGMENT_NAME_PATTERN, name)]
        if bad:
            raise ValueError(
                f"segment names {', '.join(map(repr, bad))} must be lower-case snake_case "
                "(letters, digits, _; at most 63 characters)"
            )
        return value


def load_segmentation_config(config_dir: Path | None = None) -> SegmentationConfig:
    """The configuration from ``config_dir``, or from where :func:`product_config_dir` finds it."""
    located = config_dir or product_config_dir(
        "user_segmentation", env_prefix=ENV_PREFIX, source_dir=SOURCE_CONFIG_DIR
    )
    return load_config(SegmentationConfig, located, env_prefix=ENV_PREFIX)
