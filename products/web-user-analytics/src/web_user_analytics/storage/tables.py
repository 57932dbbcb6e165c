"""Every table of web-user-analytics, declared once: name, layer, schema, partitioning."""

from __future__ import annotations

from lakehouse_core.contracts import spark_schema
from lakehouse_core.ingestion.bronze import bronze_table
from lakehouse_core.ingestion.quarantine import quarantine_table
from lakehouse_core.tables import Layer, TableSpec
from web_user_analytics import PRODUCT
from web_user_analytics.contracts import (
    Acquisition,
    DailyTraffic,
    FunnelStep,
    PageStats,
    RetentionCohort,
    UserDimension,
    WebEvent,
    WebSession,
)

BRONZE_EVENTS = bronze_table(PRODUCT)
QUARANTINE_EVENTS = quarantine_table(PRODUCT)

SILVER_EVENTS = TableSpec(
    name="events",
    layer=Layer.SILVER,
    product=PRODUCT,
    schema=spark_schema(WebEvent),
    partition_by=("event_date",),
    description=WebEvent.__doc__ or "",
)
SILVER_SESSIONS = TableSpec(
    name="sessions",
    layer=Layer.SILVER,
    product=PRODUCT,
    schema=spark_schema(WebSession),
    partition_by=("session_date",),
    description=WebSession.__doc__ or "",
)


def _gold(name: str, model: type, partition: str | None) -> TableSpec:
    return TableSpec(
        name=name,
        layer=Layer.GOLD,
        product=PRODUCT,
        schema=spark_schema(model),
        partition_by=(partition,) if partition else (),
        description=model.__doc__ or "",
    )


GOLD_DAILY_TRAFFIC = _gold("daily_traffic", DailyTraffic, "date")
GOLD_PAGE_STATS = _gold("page_stats", PageStats, "date")
GOLD_ACQUISITION = _gold("acquisition", Acquisition, "date")
GOLD_FUNNEL_STEPS = _gold("funnel_steps", FunnelStep, "date")
GOLD_RETENTION = _gold("retention_cohorts", RetentionCohort, "cohort_week")
GOLD_USERS = _gold("user_dimension", UserDimension, None)

GOLD_TABLES = (
    GOLD_DAILY_TRAFFIC,
    GOLD_PAGE_STATS,
    GOLD_ACQUISITION,
    GOLD_FUNNEL_STEPS,
    GOLD_RETENTION,
    GOLD_USERS,
)
