"""Sessionisation: group each visitor's events into visits separated by inactivity.

Product-neutral: web and mobile differ only in which events count and what else starts a
session (a new campaign, an app launch), which they pass in as a column. Sessions are not cut
at midnight; a visit that runs past it stays one session, dated by its start.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def session_key(visitor: Column, started_at: Column) -> Column:
    """The session id: a SHA-256 of the visitor and the session's start (microseconds), so
    sessionising unchanged events again yields the same ids. NULL if either is NULL."""
    from pyspark.sql import functions as F

    key = F.concat_ws("|", visitor.cast("string"), F.unix_micros(started_at).cast("string"))
    return F.when(visitor.isNotNull() & started_at.isNotNull(), F.sha2(key, 256))


def assign_sessions(
    events: DataFrame,
    *,
    visitor_col: str,
    ts_col: str,
    inactivity: timedelta,
    starts_new_session: Column | None = None,
    session_col: str = "session_id",
    tie_breakers: Sequence[str] = (),
) -> DataFrame:
    """Add ``session_col`` to every event (pure).

    Per visitor, events are ordered by ``ts_col`` then ``tie_breakers``. An event starts a new
    session when it is the visitor's first, when more than ``inactivity`` passed since the
    previous event, or when ``starts_new_session`` is true for it (a NULL counts as false).
    Events with a NULL visitor or time get a NULL session.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ordered = Window.partitionBy(visitor_col).orderBy(F.col(ts_col), *[F.col(c) for c in tie_breakers])
    so_far = ordered.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    previous_ts = F.lag(ts_col).over(ordered)
    gap_micros = F.unix_micros(F.col(ts_col)) - F.unix_micros(previous_ts)
    inactivity_micros = int(inactivity.total_seconds() * 1_000_000)
    starts = (
        previous_ts.isNull()
        | (gap_micros > F.lit(inactivity_micros))
        | F.coalesce(starts_new_session if starts_new_session is not None else F.lit(False), F.lit(False))
    )
    started_at = F.max(F.when(F.col("_starts_session"), F.col(ts_col))).over(so_far)
    return (
        events.withColumn("_starts_session", starts)
        .withColumn(session_col, session_key(F.col(visitor_col), started_at))
        .drop("_starts_session")
    )
