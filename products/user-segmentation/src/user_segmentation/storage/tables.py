"""Every table of user-segmentation, declared once: name, layer, schema, partitioning, subject
columns (so compliance-auditing's erasure reaches the graph, the features and the memberships)
and upstream tables. The inputs are other products' tables, named here by their qualified names
only: their locations and schemas come from the catalog at run time."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from lakehouse_core.privacy import SUBJECT_KEY_COLUMN
from lakehouse_core.tables import (
    PSEUDONYMOUS_RETENTION_DAYS,
    Layer,
    Retention,
    SubjectKind,
    declare_table,
)
from user_segmentation import PRODUCT
from user_segmentation.contracts import (
    ClusterProfile,
    IdentityEdge,
    IdentityEdgeRemoval,
    ModelRun,
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
    upstream=(PERSON_NODES.qualified_name, *(s.events for s in SOURCES)),
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
