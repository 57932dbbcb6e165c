"""Response models the tables' contracts do not give directly."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator

from user_segmentation.contracts import FeatureProfile


class SegmentSummary(BaseModel):
    """A configured segment: its definition and its size on the newest computed day."""

    name: str
    description: str
    predicate: str = Field(description="The Spark SQL predicate over the person features.")
    definition_hash: str
    day: date | None = Field(description="The newest day computed for the segment; null before any.")
    members: int = Field(description="Members at the end of that day (0 before any day).")


class SegmentMember(BaseModel):
    """A person in a segment on the day asked for, with the spell that holds them."""

    person_id: str
    subject_key: str | None
    valid_from: date = Field(description="The day they entered.")
    valid_to: date | None = Field(description="The day they left; null while a member.")
    definition_hash: str


class ClusterSummary(BaseModel):
    """One cluster of a model: its size, its name and its features against the population."""

    cluster_id: int = Field(description="Stable across retrains (docs/DESIGN.md).")
    segment: str = Field(description="cluster-<id>: its memberships' segment name.")
    name: str
    size: int
    share: float
    features: list[FeatureProfile] = Field(description="Most distinguishing (largest |z_score|) first.")


class ClusterModel(BaseModel):
    """A k-means model's clusters, with what chose it."""

    model_version: str
    as_of: date
    chosen_k: int
    silhouette: float
    people: int
    clusters: list[ClusterSummary] = Field(description="By cluster_id.")


class RemovalCreate(BaseModel):
    """A request to remove the edges between a product id node and a subject key."""

    model_config = ConfigDict(extra="forbid")

    node_id: str = Field(
        min_length=1, max_length=512, description="The product id node: <product>:<kind>:<id>."
    )
    subject_key: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=1, max_length=500, description="Why the link is wrong (kept as evidence).")

    @field_validator("node_id", "subject_key", "reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()
