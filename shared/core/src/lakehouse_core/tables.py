"""Table definitions: a table's name, layer, location, partitioning and properties, declared once.

Products declare their tables as :class:`TableSpec` values in their ``storage`` package; jobs
and the serving layer resolve locations through :meth:`TableSpec.location`, so a table's path
is written in exactly one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql.types import StructType


class Layer(StrEnum):
    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    QUARANTINE = "quarantine"


#: Properties every table gets: readable by delta-rs' pyarrow path (no deletion vectors, no
#: column mapping) and with a change feed for incremental consumers.
DEFAULT_TABLE_PROPERTIES: Mapping[str, str] = {
    "delta.enableDeletionVectors": "false",
    "delta.enableChangeDataFeed": "true",
}


def join_location(root: str, *parts: str) -> str:
    """Join a lake root (a local path or an object-store URI) with relative parts."""
    return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    """Where a table lives and how it is laid out. ``schema`` comes from the product contract."""

    name: str
    layer: Layer
    product: str
    schema: StructType
    partition_by: tuple[str, ...] = ()
    properties: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

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
