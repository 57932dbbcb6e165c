"""user-segmentation's configuration: ``config/product.yaml``, its environment overlay, and
``SEGMENTS_*`` environment variables (which win). Secrets come only from the environment.

Segment predicates are checked here for what needs no Spark (a name the API can route, a
non-empty predicate); :func:`user_segmentation.processing.segments.validate_segments` checks
them against the features schema with Spark's parser before any membership is computed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from lakehouse_core.config import ProductConfig, load_config, product_config_dir
from lakehouse_core.tables import SubjectKind

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


class FeatureConfig(BaseModel):
    order_event: str = Field(
        default="Order Completed", description="The track event whose properties.revenue is monetary value."
    )


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


class SegmentationConfig(ProductConfig):
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    segments: dict[str, SegmentDefinition] = Field(default_factory=dict)
    api_keys: dict[str, list[str]] = Field(
        default_factory=dict,
        json_schema_extra={"secret": True},
        description="API key → roles ('analyst', 'person_reader'); from SEGMENTS_API_KEYS (JSON) only.",
    )

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
