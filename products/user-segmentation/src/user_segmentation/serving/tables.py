"""The tables the API reads."""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse_core.serving.api import served_table
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.tables import ServedTable
from user_segmentation.storage.tables import (
    CLUSTER_PROFILES,
    MODEL_RUNS,
    PERSON_FEATURES,
    SEGMENT_MEMBERSHIPS,
    SEGMENT_SIZES,
)

#: The tables ``/ready`` checks. The clustering's tables are served too, but exist only where
#: ``clustering`` is configured, so their absence is a 503 of their routes, not unreadiness.
SERVED_SPECS = (PERSON_FEATURES, SEGMENT_MEMBERSHIPS, SEGMENT_SIZES)
CLUSTERING_SPECS = (MODEL_RUNS, CLUSTER_PROFILES)


@dataclass(frozen=True)
class ServedTables:
    features: ServedTable
    memberships: ServedTable
    sizes: ServedTable
    model_runs: ServedTable
    profiles: ServedTable

    @classmethod
    def open(cls, lake_root: str, cache: QueryCache) -> ServedTables:
        return cls(*(served_table(spec, lake_root, cache) for spec in (*SERVED_SPECS, *CLUSTERING_SPECS)))
