"""Every table of web-user-analytics, declared once: name, layer, schema, partitioning, and what
the platform's catalog shows (subject columns, retention, freshness SLA, upstream tables)."""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel

from lakehouse_core.contracts import spark_schema
from lakehouse_core.ingestion.bronze import BronzeRecord, bronze_table
from lakehouse_core.ingestion.quarantine import QuarantinedRecord, quarantine_table
from lakehouse_core.tables import (
    ConfiguredTopic,
    Freshness,
    Layer,
    Retention,
    SubjectKind,
    TableSpec,
    Upstream,
)
from web_user_analytics import PRODUCT
from web_user_analytics.contracts import (
    Acquisition,
    DailyTraffic,
    FunnelStep,
    PageStats,
    RetentionCohort,
    UserDimension,
    VisitorDay,
    WebEvent,
    WebSession,
)

#: Raw data is kept long enough to replay a quarter; pseudonymised silver 13 months (a year
#: over year comparison); aggregates without personal data five years.
RAW_DAYS = 90
PSEUDONYMOUS_DAYS = 395
AGGREGATE_DAYS = 1825

FRESHNESS = {
    Layer.BRONZE: Freshness(warn_minutes=15, breach_minutes=60),
    Layer.QUARANTINE: Freshness(warn_minutes=60, breach_minutes=240),
    Layer.SILVER: Freshness(warn_minutes=60, breach_minutes=240),
    Layer.GOLD: Freshness(warn_minutes=120, breach_minutes=360),
}

BRONZE = f"{PRODUCT}.bronze.events"
SILVER = f"{PRODUCT}.silver.events"
SESSIONS = f"{PRODUCT}.silver.sessions"

BRONZE_EVENTS = replace(
    bronze_table(PRODUCT),
    contract=BronzeRecord,
    subject_columns={"key": SubjectKind.USER_ID, "value": SubjectKind.FREE_TEXT},
    retention=Retention(RAW_DAYS, "ingest_date"),
    freshness=FRESHNESS[Layer.BRONZE],
    upstream=(ConfiguredTopic("events"),),
)
QUARANTINE_EVENTS = replace(
    quarantine_table(PRODUCT),
    contract=QuarantinedRecord,
    subject_columns={"raw_value": SubjectKind.FREE_TEXT},
    retention=Retention(RAW_DAYS, "quarantined_at"),
    freshness=FRESHNESS[Layer.QUARANTINE],
    upstream=(BRONZE,),
)


def _table(
    name: str,
    layer: Layer,
    model: type[BaseModel],
    partition: str | None,
    *,
    upstream: tuple[Upstream, ...],
    retention: Retention,
    subject_columns: dict[str, SubjectKind] | None = None,
) -> TableSpec:
    return TableSpec(
        name=name,
        layer=layer,
        product=PRODUCT,
        schema=spark_schema(model),
        partition_by=(partition,) if partition else (),
        description=model.__doc__ or "",
        contract=model,
        subject_columns=subject_columns or {},
        retention=retention,
        freshness=FRESHNESS[layer],
        upstream=upstream,
    )


SILVER_EVENTS = _table(
    "events",
    Layer.SILVER,
    WebEvent,
    "event_date",
    upstream=(BRONZE,),
    retention=Retention(PSEUDONYMOUS_DAYS, "event_date"),
    subject_columns={
        "visitor_id": SubjectKind.PSEUDONYMOUS_ID,
        "previous_id": SubjectKind.PSEUDONYMOUS_ID,
        "ip_truncated": SubjectKind.IP,
        "page_url": SubjectKind.FREE_TEXT,
        "page_query": SubjectKind.FREE_TEXT,
        "properties_json": SubjectKind.FREE_TEXT,
        "traits_json": SubjectKind.FREE_TEXT,
    },
)
SILVER_SESSIONS = _table(
    "sessions",
    Layer.SILVER,
    WebSession,
    "session_date",
    upstream=(SILVER,),
    retention=Retention(PSEUDONYMOUS_DAYS, "session_date"),
    subject_columns={"visitor_id": SubjectKind.PSEUDONYMOUS_ID},
)


def _gold(name: str, model: type[BaseModel], partition: str, *, upstream: tuple[str, ...]) -> TableSpec:
    return _table(
        name,
        Layer.GOLD,
        model,
        partition,
        upstream=upstream,
        retention=Retention(AGGREGATE_DAYS, partition),
    )


GOLD_DAILY_TRAFFIC = _gold("daily_traffic", DailyTraffic, "date", upstream=(SESSIONS,))
GOLD_PAGE_STATS = _gold("page_stats", PageStats, "date", upstream=(SILVER,))
GOLD_ACQUISITION = _gold("acquisition", Acquisition, "date", upstream=(SESSIONS,))
GOLD_FUNNEL_STEPS = _gold("funnel_steps", FunnelStep, "date", upstream=(SILVER, SESSIONS))
GOLD_VISITOR_DAYS = _table(
    "visitor_days",
    Layer.GOLD,
    VisitorDay,
    "date",
    upstream=(SILVER, SESSIONS),
    retention=Retention(PSEUDONYMOUS_DAYS, "date"),
    subject_columns={"visitor_id": SubjectKind.PSEUDONYMOUS_ID},
)
"""Internal: what the user dimension is summed from. Not in :data:`GOLD_TABLES` (the tables the
API serves); the gold job creates and writes it."""
GOLD_USERS = _table(
    "user_dimension",
    Layer.GOLD,
    UserDimension,
    None,
    upstream=(GOLD_VISITOR_DAYS.qualified_name,),
    retention=Retention(PSEUDONYMOUS_DAYS, "last_seen"),
    subject_columns={"visitor_id": SubjectKind.PSEUDONYMOUS_ID},
)
GOLD_RETENTION = _gold(
    "retention_cohorts",
    RetentionCohort,
    "cohort_week",
    upstream=(SESSIONS, GOLD_USERS.qualified_name),
)

GOLD_TABLES = (
    GOLD_DAILY_TRAFFIC,
    GOLD_PAGE_STATS,
    GOLD_ACQUISITION,
    GOLD_FUNNEL_STEPS,
    GOLD_RETENTION,
    GOLD_USERS,
)
