"""Totals over platforms computed from per-platform gold rows.

Devices are counted per platform, and a device runs one platform, so device counts of different
platforms add up exactly. Rows labelled 'all' are left out of the sums, so a table that stores
its own totals is not counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse_core.serving.arrow import SortOrder, summed
from mobile_user_analytics.serving.params import ALL


def across_platforms(
    rows: pa.Table, by: Sequence[str], counts: Sequence[str], order: SortOrder
) -> list[dict[str, Any]]:
    """``counts`` summed over every platform per distinct ``by``, sorted by ``order``."""
    own = rows.filter(pc.field("platform") != ALL)
    rows_out: list[dict[str, Any]] = summed(own, by, counts).sort_by(list(order)).to_pylist()
    return rows_out
