"""The tables the API reads."""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse_core.serving.api import served_table
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.tables import ServedTable
from user_segmentation.storage.tables import PERSON_FEATURES, SEGMENT_MEMBERSHIPS, SEGMENT_SIZES

SERVED_SPECS = (PERSON_FEATURES, SEGMENT_MEMBERSHIPS, SEGMENT_SIZES)


@dataclass(frozen=True)
class ServedTables:
    features: ServedTable
    memberships: ServedTable
    sizes: ServedTable

    @classmethod
    def open(cls, lake_root: str, cache: QueryCache) -> ServedTables:
        return cls(*(served_table(spec, lake_root, cache) for spec in SERVED_SPECS))
