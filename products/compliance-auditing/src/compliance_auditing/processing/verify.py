"""Verifying a day's audit chain from the stored tables, JVM-free (delta-rs)."""

from __future__ import annotations

from datetime import date

import pyarrow.compute as pc

from compliance_auditing.processing.chain import Verification, verify_chain
from compliance_auditing.storage.tables import SILVER_AUDIT_TRAIL, SILVER_CHAIN_ROOTS
from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.errors import TableNotFoundError


def verify_day(lake_root: str, day: date) -> Verification:
    """:func:`~compliance_auditing.processing.chain.verify_chain` of ``day``'s stored links and root."""
    try:
        links = read_arrow(SILVER_AUDIT_TRAIL.location(lake_root), filter=pc.field("day") == day).to_pylist()
    except TableNotFoundError:
        links = []
    try:
        roots = read_arrow(SILVER_CHAIN_ROOTS.location(lake_root), filter=pc.field("day") == day).to_pylist()
    except TableNotFoundError:
        roots = []
    return verify_chain(day, links, roots[0] if roots else None)
