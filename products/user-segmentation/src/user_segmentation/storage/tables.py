"""Every table of user-segmentation, declared once: name, layer, schema, partitioning, subject
columns (so compliance-auditing's erasure reaches the graph, the features and the memberships)
and upstream tables. The inputs are other products' tables, named here by their qualified names
only: their locations and schemas come from the catalog at run time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from lakehouse_core.ingestion.bronze import bronze_table
from lakehouse_core.privacy import SUBJECT_KEY_COLUMN
from lakehouse_core.sources.landing import api_bronze_table, api_quarantine_table
from lakehouse_core.tables import (
    PSEUDONYMOUS_RETENTION_DAYS,
    ConfiguredTopic,
    Layer,
    Retention,
    SubjectKind,
    declare_table,
)
from user_segmentation import PRODUCT
from user_segmentation.config import CDC_TOPIC_KEYS
from user_segmentation.contracts import (
    ClusterProfile,
    Customer,
    CustomerChange,
    IdentityEdge,
    IdentityEdgeRemoval,
    ModelRun,
    Order,
    OrderChange,
    Payment,
    PersonFeatures,
    PersonNode,
    SegmentDay,
    SegmentMembership,
)


@dataclass(frozen=True)
class Source:
    """One product whose silver tables feed the graph and the features."""

    product: str
    platform_column: str | None
    """The events' column naming the platform (ios, android, ...); None: every event is web."""
    anonymous_column: str
    """The events' product-keyed id of a person not identified yet."""
    anonymous_kind: SubjectKind

    @property
    def events(self) -> str:
        return f"{self.product}.{Layer.SILVER.value}.events"

    @property
    def identity_links(self) -> str:
        return f"{self.product}.{Layer.SILVER.value}.identity_links"


WEB = Source("web-user-analytics", None, "anonymous_id", SubjectKind.PSEUDONYMOUS_ID)
MOBILE = Source("mobile-user-analytics", "platform", "device_key", SubjectKind.DEVICE_ID)
SOURCES = (WEB, MOBILE)

_table = partial(declare_table, PRODUCT)
_pseudonymous = Retention(PSEUDONYMOUS_RETENTION_DAYS, "event_date")

# The operational sources (docs/DESIGN.md#operational-sources). Debezium's change events of the
# captured customers and orders, raw, in one bronze table (its subject_key is null: a change
# event has no userId; the payload and key are subject columns as in every bronze table).
OPERATIONAL_CHANGES = replace(
    bronze_table(PRODUCT, "operational_changes"),
    description="Debezium change events of the operational database's customers and orders, raw.",
    upstream=tuple(ConfiguredTopic(key) for key in CDC_TOPIC_KEYS.values()),
)
_customer_columns = {
    SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY,
    "user_id": SubjectKind.USER_ID,
    "email": SubjectKind.FREE_TEXT,
}
CUSTOMERS = _table(
    "customers",
    Layer.SILVER,
    Customer,
    None,
    upstream=(OPERATIONAL_CHANGES.qualified_name,),
    subject_columns=_customer_columns,
)
CUSTOMERS_HISTORY = _table(
    "customers_history",
    Layer.SILVER,
    CustomerChange,
    None,
    upstream=(OPERATIONAL_CHANGES.qualified_name,),
    subject_columns=_customer_columns,
)
ORDERS_HISTORY = _table(
    "orders_history",
    Layer.SILVER,
    OrderChange,
    None,
    upstream=(OPERATIONAL_CHANGES.qualified_name, CUSTOMERS_HISTORY.qualified_name),
    subject_columns={SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY},
)
ORDERS = _table(
    "orders",
    Layer.SILVER,
    Order,
    None,
    upstream=(OPERATIONAL_CHANGES.qualified_name, CUSTOMERS_HISTORY.qualified_name),
    subject_columns={SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY},
)
PAYMENTS_BRONZE = api_bronze_table(PRODUCT, "payments")
PAYMENTS_QUARANTINE = api_quarantine_table(PRODUCT, "payments")
PAYMENTS = _table(
    "payments",
    Layer.SILVER,
    Payment,
    "payment_date",
    upstream=(PAYMENTS_BRONZE.qualified_name,),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "payment_date"),
    subject_columns={SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY, "user_id": SubjectKind.USER_ID},
)
OPERATIONAL_TABLES = (
    OPERATIONAL_CHANGES,
    CUSTOMERS,
    CUSTOMERS_HISTORY,
    ORDERS,
    ORDERS_HISTORY,
    PAYMENTS_BRONZE,
    PAYMENTS_QUARANTINE,
    PAYMENTS,
)

IDENTITY_EDGES = _table(
    "identity_edges",
    Layer.SILVER,
    IdentityEdge,
    "event_date",
    upstream=tuple(s.identity_links for s in SOURCES),
    retention=_pseudonymous,
    subject_columns={
        SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY,
        "linked_id": SubjectKind.PSEUDONYMOUS_ID,
        "node_id": SubjectKind.PSEUDONYMOUS_ID,
    },
)
# Written by the API with delta-rs (append-only), read by the identity run.
IDENTITY_EDGE_REMOVALS = _table(
    "identity_edge_removals",
    Layer.SILVER,
    IdentityEdgeRemoval,
    "removal_date",
    upstream=(),
    # Outlives the edges it removes: they are kept by event_date, older than the removal.
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "removal_date"),
    subject_columns={
        SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY,
        "node_id": SubjectKind.PSEUDONYMOUS_ID,
    },
)
PERSON_NODES = _table(
    "person_nodes",
    Layer.SILVER,
    PersonNode,
    None,
    upstream=(
        IDENTITY_EDGES.qualified_name,
        IDENTITY_EDGE_REMOVALS.qualified_name,
        *(s.events for s in SOURCES),
    ),
    subject_columns={
        SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY,
        "person_subject_key": SubjectKind.SUBJECT_KEY,
        "linked_id": SubjectKind.PSEUDONYMOUS_ID,
        "node_id": SubjectKind.PSEUDONYMOUS_ID,
        "person_id": SubjectKind.PSEUDONYMOUS_ID,
    },
)
PERSON_FEATURES = _table(
    "person_features",
    Layer.GOLD,
    PersonFeatures,
    "as_of",
    upstream=(
        PERSON_NODES.qualified_name,
        *(s.events for s in SOURCES),
        CUSTOMERS.qualified_name,
        ORDERS.qualified_name,
        PAYMENTS.qualified_name,
    ),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "as_of"),
    subject_columns={SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY, "person_id": SubjectKind.PSEUDONYMOUS_ID},
)
SEGMENT_MEMBERSHIPS = _table(
    "segment_memberships",
    Layer.GOLD,
    SegmentMembership,
    None,
    upstream=(PERSON_FEATURES.qualified_name,),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "valid_from"),
    subject_columns={SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY, "person_id": SubjectKind.PSEUDONYMOUS_ID},
)
SEGMENT_SIZES = _table(
    "segment_sizes", Layer.GOLD, SegmentDay, "day", upstream=(SEGMENT_MEMBERSHIPS.qualified_name,)
)
# Both by the day they describe: a re-run of a day replaces its partition. Neither names a person.
MODEL_RUNS = _table("model_runs", Layer.GOLD, ModelRun, "as_of", upstream=(PERSON_FEATURES.qualified_name,))
CLUSTER_PROFILES = _table(
    "cluster_profiles", Layer.GOLD, ClusterProfile, "as_of", upstream=(PERSON_FEATURES.qualified_name,)
)

TABLES = (
    *OPERATIONAL_TABLES,
    IDENTITY_EDGES,
    IDENTITY_EDGE_REMOVALS,
    PERSON_NODES,
    PERSON_FEATURES,
    SEGMENT_MEMBERSHIPS,
    SEGMENT_SIZES,
    MODEL_RUNS,
    CLUSTER_PROFILES,
)
GOLD_TABLES = (PERSON_FEATURES, SEGMENT_MEMBERSHIPS, SEGMENT_SIZES, MODEL_RUNS, CLUSTER_PROFILES)
