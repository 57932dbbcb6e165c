"""The tables of user-segmentation and the record it publishes, each defined once as a pydantic
model: the Spark schema, the Arrow schema the API reads with, the API's response models and the
catalog's column descriptions all derive from these. The inputs are web's and mobile's silver
events and identity links, read through the catalog (their contracts are theirs), and the
operational sources this product owns: the operational database's customers and orders as
Debezium captures them, and the payments API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

NodeKind = Literal["subject_key", "pseudonymous_id", "device_id"]
Platform = Literal["web", "ios", "android", "other"]
Change = Literal["entered", "exited"]
ExitReason = Literal["not_matching", "definition_changed"]


class IdentityEdge(BaseModel):
    """Silver: one identity link of web or mobile as an edge of the identity graph, with its
    evidence and the over-merge guard's verdict; one row per (source_table, event_id, linked_id)."""

    subject_key: str = Field(description="The person's side of the edge: a subject key (platform key).")
    node_id: str = Field(description="The product id's node: <product>:<linked_id_kind>:<linked_id>.")
    linked_id: str = Field(description="The product-keyed id (an anonymous id, a device, an earlier id).")
    linked_id_kind: str = Field(description="pseudonymous_id or device_id (the link's kind).")
    source_product: str = Field(description="The product whose identity links hold the edge.")
    link_kind: str = Field(description="identify, alias or sign_in: the call that made the link.")
    event_id: str = Field(description="Evidence: the event that made the link.")
    linked_at: datetime = Field(description="Evidence: when that event happened (UTC).")
    event_date: date = Field(description="UTC date of linked_at; the partition column.")
    source_table: str = Field(description="Evidence: the qualified name of the event's table.")
    subjects_in_window: int = Field(
        description="Distinct subject keys whose first link to this id falls in the merge window "
        "ending at this subject's first link (this one included)."
    )
    accepted: bool = Field(description="False when the over-merge guard refused the edge.")
    refused_reason: str | None = Field(
        default=None, description="Why the edge was refused; null when accepted."
    )


class IdentityEdgeRemoval(BaseModel):
    """Silver: an identity steward's decision that one edge of the graph is wrong; append-only.
    Every edge between ``node_id`` and ``subject_key`` (whatever its evidence) is refused from the
    next identity run on, so the person it joined splits."""

    removal_id: str = Field(description="32 hex digits, assigned when the removal is made.")
    node_id: str = Field(description="The edge's product id node: <product>:<linked_id_kind>:<linked_id>.")
    subject_key: str = Field(description="The edge's subject key.")
    reason: str = Field(description="Why the edge is wrong, as the steward wrote it.")
    removed_at: datetime = Field(description="When the removal was made (UTC).")
    removal_date: date = Field(description="UTC date of removed_at; the partition column.")


class PersonNode(BaseModel):
    """Silver: one node of the identity graph (a subject key, a web anonymous id, a mobile device)
    and the person (connected component over accepted edges) it belongs to."""

    node_id: str = Field(description="subject:<subject_key>, or <product>:<kind>:<product-keyed id>.")
    node_kind: NodeKind
    source_product: str | None = Field(
        default=None, description="The product of a product id; null for a subject key."
    )
    subject_key: str | None = Field(
        default=None, description="The node's subject key; null for a product id."
    )
    linked_id: str | None = Field(
        default=None, description="The node's product-keyed id; null for a subject key."
    )
    person_id: str = Field(
        description="p_ + 24 hex digits of SHA-256 of the component's smallest subject key (else "
        "its smallest node id): stable while the component keeps that key."
    )
    person_subject_key: str | None = Field(
        default=None, description="The component's smallest subject key (the one person_id derives from)."
    )


class ChangeColumns(BaseModel):
    """The columns lakehouse_core.cdc adds to every captured row: the change that wrote it."""

    op: str = Field(alias="_op", description="Debezium's operation: r (snapshot), c, u or d.")
    lsn: int | None = Field(
        default=None, alias="_lsn", description="The change's position in PostgreSQL's write-ahead log."
    )
    source_ts: datetime | None = Field(
        default=None, alias="_source_ts", description="When the change was made in the database (UTC)."
    )
    deleted: bool = Field(alias="_deleted", description="True for a delete (the row is its before-image).")
    topic: str = Field(alias="_topic", description="The Kafka topic of the change event.")
    partition: int = Field(alias="_partition")
    offset: int = Field(alias="_offset", description="Orders changes with one log position (a snapshot's).")


class Customer(ChangeColumns):
    """Silver: a customer of the operational database as of its last captured change (one row
    per customer id; a deleted customer has no row). A column added in the source arrives as a
    new column (schema evolution)."""

    id: int = Field(description="The customer's primary key in the operational database.")
    email: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, as the app stores it.")
    signup_date: date | None = None
    plan: str | None = Field(default=None, description="free, starter, pro, team (as the app stores it).")
    user_id: str | None = Field(
        default=None, description="The person's tracking user id (web's and mobile's userId)."
    )
    subject_key: str | None = Field(
        default=None, description="HMAC of user_id with the platform key: the person's subject key."
    )


class CustomerChange(Customer):
    """Silver: every captured change of a customer, once per customer id, log position and
    operation; the delete's row is the customer's before-image."""


class Order(ChangeColumns):
    """Silver: an order of the operational database as of its last captured change (one row per
    order id; a deleted order has no row)."""

    id: int = Field(description="The order's primary key in the operational database.")
    customer_id: int | None = Field(default=None, description="The customer's primary key.")
    amount: float | None = Field(default=None, description="The order's amount (as stored, one currency).")
    status: str | None = Field(default=None, description="created, paid, shipped, delivered or refunded.")
    updated_at: datetime | None = None
    subject_key: str | None = Field(
        default=None,
        description="The customer's subject key (from the customer's captured user_id); null when the "
        "customer's changes were not captured.",
    )


class OrderChange(Order):
    """Silver: every captured change of an order, once per order id, log position and operation."""


class Payment(BaseModel):
    """Silver: the newest version of each payment of the payments API (one row per payment id)."""

    payment_id: str
    updated_at: datetime = Field(description="The version's update time, as the API reported it (UTC).")
    user_id: str | None = Field(description="The paying person's user id (the source's subject_field).")
    subject_key: str | None = Field(description="HMAC of user_id with the platform key.")
    amount: float | None = Field(description="As the API sent it, in currency's units.")
    currency: str | None
    status: str | None
    paid: bool = Field(description="status is one of operational.payments.succeeded_statuses.")
    payment_date: date = Field(description="UTC date of updated_at.")


class PersonFeatures(BaseModel):
    """Gold: one person's behaviour as of the end of one UTC day (docs/METRICS.md); one row per
    person with an event on or before that day."""

    as_of: date = Field(description="The last UTC day counted; the partition column.")
    person_id: str
    subject_key: str | None = Field(
        description="The person's smallest subject key; null for an anonymous person."
    )
    first_seen_at: datetime
    last_seen_at: datetime
    recency_days: int = Field(description="as_of - UTC date of last_seen_at.")
    frequency_7d: int = Field(description="Track, page and screen events in the 7 days ending as_of.")
    frequency_30d: int
    frequency_90d: int
    sessions_7d: int = Field(description="Distinct sessions with an event in the 7 days ending as_of.")
    sessions_30d: int
    sessions_90d: int
    active_days_7d: int = Field(description="Distinct UTC days with an event in the 7 days ending as_of.")
    active_days_30d: int
    active_days_90d: int
    orders_90d: int = Field(description="Order events (features.order_event) in the 90 days ending as_of.")
    monetary_90d: float = Field(
        description="Sum of those orders' properties.revenue (as sent, any currency)."
    )
    platforms_90d: list[str] = Field(
        description="web, ios, android, other: platforms with an event in 90 days, sorted."
    )
    last_seen_web: datetime | None = None
    last_seen_ios: datetime | None = None
    last_seen_android: datetime | None = None
    funnel_stage_90d: int = Field(
        default=0,
        description="The furthest step (1-based, features.funnel) of a track event in the 90 days "
        "ending as_of; 0 when none.",
    )
    country: str | None = Field(
        default=None, description="The person's customer's country (silver.customers); null: no customer."
    )
    plan: str | None = Field(default=None, description="The person's customer's plan; null: no customer.")
    signup_date: date | None = Field(default=None, description="The person's customer's signup date.")
    order_value: float | None = Field(
        default=None,
        description="Sum of the amounts of the customer's orders in silver.orders whose status is "
        "paid (operational.paid_order_statuses); null: no customer.",
    )
    payments_90d: float | None = Field(
        default=None,
        description="Sum of the person's paid payments (silver.payments) updated in the 90 days ending "
        "as_of, any currency; 0 when all are older or unpaid; null: no payment up to as_of.",
    )


class SegmentMembership(BaseModel):
    """Gold: one spell of one person in one rule segment: member from valid_from (the entry day)
    until valid_to (the exit day, the first day not a member; null while a member)."""

    segment: str
    person_id: str
    subject_key: str | None = Field(description="The person's smallest subject key when they entered.")
    valid_from: date = Field(description="Entry day: the first as_of day the predicate held.")
    valid_to: date | None = Field(
        default=None, description="Exit day: the first as_of day it did not; null while a member."
    )
    definition_hash: str = Field(description="Hash of the predicate that admitted the person.")
    predicate: str = Field(description="The predicate itself, as configured then.")
    exit_reason: ExitReason | None = Field(
        default=None, description="not_matching, or definition_changed (the segment's predicate changed)."
    )


class SegmentDay(BaseModel):
    """Gold: one segment on one as_of day: members at the end of the day, entries and exits."""

    day: date = Field(description="The as_of day; the partition column.")
    segment: str
    definition_hash: str
    members: int
    entered: int
    exited: int


class MembershipChange(BaseModel):
    """The record of ``segments.membership.v1``: one entry into or exit from a segment, keyed by
    person_id. ``change_id`` is the same when a change is re-sent, so consumers can drop repeats."""

    change_id: str = Field(
        description="SHA-256 of segment, person, change, day and definition hash (hex, 32)."
    )
    segment: str
    person_id: str
    subject_key: str | None
    change: Change
    day: date = Field(description="The entry day (entered) or the exit day (exited).")
    valid_from: date
    definition_hash: str
    reason: ExitReason | None = None


class FeatureProfile(BaseModel):
    """One feature of one cluster against the population of the day (the API's view of a profile)."""

    feature: str
    mean: float = Field(description="The cluster's mean, in the feature's units.")
    population_mean: float
    z_score: float = Field(description="(mean - population_mean) / population standard deviation.")


class ModelRun(BaseModel):
    """Gold: one k-means training on the person features of one as_of day: what it was trained
    on, the silhouette of every k tried, the chosen k and the centroids under stable ids."""

    model_version: str = Field(
        description="16 hex digits of SHA-256 of as_of, features, seed, max_iter, k range, chosen k "
        "and centroids: the definition_hash of the memberships the model admits."
    )
    as_of: date = Field(description="The features' day the model was trained on.")
    trained_at: datetime
    features: list[str] = Field(description="The features, in the order of the centroids' values.")
    seed: int
    max_iter: int
    k_min: int
    k_max: int
    silhouettes: dict[int, float] = Field(
        description="k → mean silhouette (squared Euclidean, standardised features, -1..1) of every k "
        "trained; a k that left a cluster empty is absent."
    )
    chosen_k: int = Field(description="The k with the highest silhouette (the smaller k on a tie).")
    silhouette: float = Field(description="The chosen k's silhouette.")
    people: int = Field(description="Persons clustered.")
    feature_means: list[float] = Field(description="Population mean of each feature (standardisation).")
    feature_stddevs: list[float] = Field(
        description="Population sample standard deviation of each feature (0: the feature is constant)."
    )
    # Elements typed nullable only because Delta refuses NOT NULL nested in a map; never null.
    centroids: dict[int, list[float | None]] = Field(
        description="Stable cluster id → its centre in the features' own units, in features' order."
    )
    previous_model_version: str | None = Field(
        default=None, description="The model whose cluster ids this one's were matched to."
    )


class ClusterProfile(BaseModel):
    """Gold: one cluster of one model run: its size, what distinguishes it, and its name."""

    as_of: date = Field(description="The model's day; the partition column.")
    model_version: str
    cluster_id: int
    segment: str = Field(description="cluster-<id>: the segment name of its memberships.")
    name: str = Field(
        description="Generated from its most distinguishing features, e.g. 'mobile-first, high frequency'."
    )
    size: int = Field(description="Persons in the cluster.")
    share: float = Field(description="size / persons clustered.")
    feature_means: dict[str, float] = Field(description="Feature → the cluster's mean, in its units.")
    population_means: dict[str, float] = Field(description="Feature → the mean over every person clustered.")
    z_scores: dict[str, float] = Field(
        description="Feature → (cluster mean - population mean) / population standard deviation."
    )

    def feature_profiles(self) -> list[FeatureProfile]:
        """The features, the most distinguishing (largest |z|) first."""
        profiles = [
            FeatureProfile(
                feature=name,
                mean=mean,
                population_mean=self.population_means[name],
                z_score=self.z_scores[name],
            )
            for name, mean in self.feature_means.items()
        ]
        return sorted(profiles, key=lambda p: (-abs(p.z_score), p.feature))
