"""The removals' store, JVM-free (delta-rs), for the API: ``silver.identity_edge_removals`` is
append-only (appends never conflict with the identity run reading it), and a removal is never
rewritten; the identity run reads it with Spark."""

from __future__ import annotations

import pyarrow.compute as pc

from lakehouse_core.delta_appender import append_models
from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.errors import TableNotFoundError
from user_segmentation.contracts import IdentityEdgeRemoval
from user_segmentation.storage.tables import IDENTITY_EDGE_REMOVALS, IDENTITY_EDGES


def append_removal(lake_root: str, removal: IdentityEdgeRemoval) -> None:
    append_models(IDENTITY_EDGE_REMOVALS, [removal], lake_root=lake_root)


def read_removals(lake_root: str) -> list[IdentityEdgeRemoval]:
    """Every removal, oldest first; empty when none was ever made."""
    try:
        rows = read_arrow(IDENTITY_EDGE_REMOVALS.location(lake_root)).to_pylist()
    except TableNotFoundError:
        return []
    removals = [IdentityEdgeRemoval.model_validate(row) for row in rows]
    return sorted(removals, key=lambda r: (r.removed_at, r.removal_id))


def edge_exists(lake_root: str, *, node_id: str, subject_key: str) -> bool:
    """Whether ``silver.identity_edges`` holds an edge between the two (accepted or not)."""
    try:
        found = read_arrow(
            IDENTITY_EDGES.location(lake_root),
            columns=["node_id"],
            filter=(pc.field("node_id") == node_id) & (pc.field("subject_key") == subject_key),
        )
    except TableNotFoundError:
        return False
    return bool(found.num_rows > 0)
