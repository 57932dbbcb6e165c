"""Every table of web-user-analytics, declared once: name, layer, schema, partitioning, and what
the platform's catalog shows (subject columns, retention, freshness SLA, upstream tables)."""

from __future__ import annotations

from functools import partial

from pydantic import BaseModel

from lakehouse_core.identity import identity_links_table
from lakehouse_core.ingestion.bronze import bronze_table
from lakehouse_core.ingestion.quarantine import quarantine_table
from lakehouse_core.tables import (
    AGGREGATE_RETENTION_DAYS,
    PSEUDONYMOUS_RETENTION_DAYS,
    Layer,
    Retention,
    SubjectKind,
    TableSpec,
    declare_table,
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

BRONZE = f"{PRODUCT}.bronze.events"
SILVER = f"{PRODUCT}.silver.events"
SESSIONS = f"{PRODUCT}.silver.sessions"

BRONZE_EVENTS = bronze_table(PRODUCT)
QUARANTINE_EVENTS = quarantine_table(PRODUCT)


#: A table of this product (:func:`lakehouse_core.tables.declare_table`).
_table = partial(declare_table, PRODUCT)


SILVER_EVENTS = _table(
    "events",
    Layer.SILVER,
    WebEvent,
    "event_date",
    upstream=(BRONZE,),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "event_date"),
    subject_columns={
        "visitor_id": SubjectKind.PSEUDONYMOUS_ID,
        "previous_id": SubjectKind.PSEUDONYMOUS_ID,
        "ip_truncated": SubjectKind.IP,
        "page_url": SubjectKind.FREE_TEXT,
        "page_query": SubjectKind.FREE_TEXT,
        "properties_json": SubjectKind.FREE_TEXT,
        "traits_json": SubjectKind.FREE_TEXT,
        "anonymous_id": SubjectKind.PSEUDONYMOUS_ID,
        "subject_key": SubjectKind.SUBJECT_KEY,
    },
)
SILVER_SESSIONS = _table(
    "sessions",
    Layer.SILVER,
    WebSession,
    "session_date",
    upstream=(SILVER,),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "session_date"),
    subject_columns={"visitor_id": SubjectKind.PSEUDONYMOUS_ID, "subject_key": SubjectKind.SUBJECT_KEY},
)

SILVER_IDENTITY_LINKS = identity_links_table(PRODUCT)
"""Which anonymous ids (web-keyed ``anonymous_id``, and earlier ids of alias calls) belong to which
subject key, from identify and alias calls."""


def _gold(name: str, model: type[BaseModel], partition: str, *, upstream: tuple[str, ...]) -> TableSpec:
    return _table(
        name,
        Layer.GOLD,
        model,
        partition,
        upstream=upstream,
        retention=Retention(AGGREGATE_RETENTION_DAYS, partition),
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
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "date"),
    subject_columns={"visitor_id": SubjectKind.PSEUDONYMOUS_ID, "subject_key": SubjectKind.SUBJECT_KEY},
)
"""Internal: what the user dimension is summed from. Not in :data:`GOLD_TABLES` (the tables the
API serves); the gold job creates and writes it."""
GOLD_USERS = _table(
    "user_dimension",
    Layer.GOLD,
    UserDimension,
    None,
    upstream=(GOLD_VISITOR_DAYS.qualified_name,),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "last_seen"),
    subject_columns={"visitor_id": SubjectKind.PSEUDONYMOUS_ID, "subject_key": SubjectKind.SUBJECT_KEY},
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
