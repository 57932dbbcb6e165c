"""The gold job on real Delta tables: a late session moves a visitor to an earlier cohort.

Silver (W1 = Monday 2024-03-04, W2 = the Monday after):

- ``b`` visits on Wednesday of W1 (sb1) and on Tuesday of W2 (sb2): cohort W1, back in W2.
- ``a`` first visits on Monday of W2 (sa2): cohort W2.

Then a late session of ``a`` on Sunday of W1 (sa1) arrives: ``a`` now belongs to cohort W1, and
cohort W2 must lose them (it is left empty), not keep them as well.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import SparkSession

from lakehouse_core.delta import append
from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.tables import TableSpec
from lakehouse_platform.event_products import run_gold
from web_user_analytics.config import load_web_config
from web_user_analytics.pipeline import WEB
from web_user_analytics.storage.tables import GOLD_RETENTION, GOLD_USERS, SILVER_EVENTS, SILVER_SESSIONS

pytestmark = pytest.mark.integration

W1, W2 = date(2024, 3, 4), date(2024, 3, 11)


def ts(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def with_defaults(spec: TableSpec, values: dict[str, Any]) -> tuple[Any, ...]:
    """A row of the table: ``values``, and None for every other column."""
    return tuple(values.get(name) for name in spec.schema.fieldNames())


def visit(spark: SparkSession, lake_root: str, session_id: str, visitor: str, at: datetime) -> None:
    """One page view at ``at``, and its one-view session, appended to silver."""
    event = with_defaults(
        SILVER_EVENTS,
        {
            "event_id": f"e-{session_id}",
            "event_type": "page",
            "visitor_id": visitor,
            "event_ts": at,
            "received_at": at,
            "event_date": at.date(),
            "session_id": session_id,
            "page_path": "/",
            "referrer_class": "direct",
            "device_type": "desktop",
            "is_bot": False,
            "imported": False,
            "source_partition": 0,
            "source_offset": 0,
        },
    )
    session = with_defaults(
        SILVER_SESSIONS,
        {
            "session_id": session_id,
            "visitor_id": visitor,
            "session_date": at.date(),
            "started_at": at,
            "ended_at": at,
            "duration_seconds": 0.0,
            "events": 1,
            "page_views": 1,
            "landing_path": "/",
            "exit_path": "/",
            "is_bounce": True,
            "source": "(direct)",
            "medium": "(none)",
            "campaign": "(not set)",
            "device_type": "desktop",
        },
    )
    for spec, row in ((SILVER_EVENTS, event), (SILVER_SESSIONS, session)):
        append(spark.createDataFrame([row], spec.schema), spec, lake_root=lake_root)


def gold(spec: TableSpec, lake_root: str, *columns: str) -> list[tuple[Any, ...]]:
    table = read_arrow(spec.location(lake_root), columns=list(columns)).to_pylist()
    return sorted(tuple(row[c] for c in columns) for row in table)


def test_late_first_visit_moves_the_visitor_out_of_their_old_cohort(
    spark: SparkSession, lake_root: str
) -> None:
    config = load_web_config()
    cohort = ("cohort_week", "week_offset", "cohort_size", "retained_visitors")
    visit(spark, lake_root, "sb1", "b", ts(W1 + timedelta(days=2), 10))
    visit(spark, lake_root, "sb2", "b", ts(W2 + timedelta(days=1), 10))
    visit(spark, lake_root, "sa2", "a", ts(W2, 10))

    assert run_gold(WEB, spark, config, lake_root=lake_root).batches == 1
    assert gold(GOLD_RETENTION, lake_root, *cohort) == [(W1, 0, 1, 1), (W1, 1, 1, 1), (W2, 0, 1, 1)]

    visit(spark, lake_root, "sa1", "a", ts(W1 + timedelta(days=6), 22))

    assert run_gold(WEB, spark, config, lake_root=lake_root).batches == 1
    assert gold(GOLD_RETENTION, lake_root, *cohort) == [(W1, 0, 2, 2), (W1, 1, 2, 2)]
    first_seen = {
        visitor: seen.astimezone(UTC)
        for visitor, seen in gold(GOLD_USERS, lake_root, "visitor_id", "first_seen")
    }
    assert first_seen == {"a": ts(W1 + timedelta(days=6), 22), "b": ts(W1 + timedelta(days=2), 10)}
