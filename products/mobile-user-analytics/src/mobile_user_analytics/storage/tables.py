"""Every table of mobile-user-analytics, declared once: name, layer, schema, partitioning, and
what the platform's catalog shows (subject columns, retention, freshness SLA, upstream tables)."""

from __future__ import annotations

from functools import partial

from lakehouse_core.identity import identity_links_table
from lakehouse_core.ingestion.bronze import bronze_table
from lakehouse_core.ingestion.quarantine import quarantine_table
from lakehouse_core.tables import (
    PSEUDONYMOUS_RETENTION_DAYS,
    Layer,
    Retention,
    SubjectKind,
    declare_table,
)
from mobile_user_analytics import PRODUCT
from mobile_user_analytics.contracts import (
    ActiveUsers,
    AppSession,
    CrashFree,
    DeviceDay,
    DeviceDimension,
    InstallCohort,
    MobileEvent,
    OsAdoption,
    ScreenStats,
    ScreenTransition,
    ScreenView,
    SessionStats,
    VersionAdoption,
)

BRONZE = f"{PRODUCT}.bronze.events"
SILVER = f"{PRODUCT}.silver.events"
SESSIONS = f"{PRODUCT}.silver.sessions"
SCREENS = f"{PRODUCT}.silver.screen_views"

BRONZE_EVENTS = bronze_table(PRODUCT)
QUARANTINE_EVENTS = quarantine_table(PRODUCT)


#: A table of this product (:func:`lakehouse_core.tables.declare_table`).
_table = partial(declare_table, PRODUCT)


SILVER_EVENTS = _table(
    "events",
    Layer.SILVER,
    MobileEvent,
    "event_date",
    upstream=(BRONZE,),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "event_date"),
    subject_columns={
        "device_key": SubjectKind.DEVICE_ID,
        "user_key": SubjectKind.PSEUDONYMOUS_ID,
        "previous_id": SubjectKind.PSEUDONYMOUS_ID,
        "properties_json": SubjectKind.FREE_TEXT,
        "traits_json": SubjectKind.FREE_TEXT,
        "subject_key": SubjectKind.SUBJECT_KEY,
    },
)
SILVER_SESSIONS = _table(
    "sessions",
    Layer.SILVER,
    AppSession,
    "session_date",
    upstream=(SILVER,),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "session_date"),
    subject_columns={
        "device_key": SubjectKind.DEVICE_ID,
        "user_key": SubjectKind.PSEUDONYMOUS_ID,
        "subject_key": SubjectKind.SUBJECT_KEY,
    },
)
SILVER_SCREEN_VIEWS = _table(
    "screen_views",
    Layer.SILVER,
    ScreenView,
    "event_date",
    upstream=(SILVER,),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "event_date"),
    subject_columns={"device_key": SubjectKind.DEVICE_ID},
)
SILVER_IDENTITY_LINKS = identity_links_table(PRODUCT)
"""Which devices (``device_key``, by sign-ins) and earlier ids (alias calls) belong to which
subject key. Tables keyed by a device alone reach the person through these links."""

GOLD_ACTIVE_USERS = _table("active_users", Layer.GOLD, ActiveUsers, "date", upstream=(SILVER,))
GOLD_SESSION_STATS = _table("session_stats", Layer.GOLD, SessionStats, "date", upstream=(SESSIONS,))
GOLD_SCREEN_STATS = _table("screen_stats", Layer.GOLD, ScreenStats, "date", upstream=(SCREENS,))
GOLD_SCREEN_TRANSITIONS = _table(
    "screen_transitions", Layer.GOLD, ScreenTransition, "date", upstream=(SCREENS,)
)
GOLD_VERSION_ADOPTION = _table("version_adoption", Layer.GOLD, VersionAdoption, "date", upstream=(SILVER,))
GOLD_OS_ADOPTION = _table("os_adoption", Layer.GOLD, OsAdoption, "date", upstream=(SILVER,))
GOLD_CRASH_FREE = _table("crash_free", Layer.GOLD, CrashFree, "date", upstream=(SESSIONS,))
GOLD_DEVICE_DAYS = _table(
    "device_days",
    Layer.GOLD,
    DeviceDay,
    "date",
    upstream=(SILVER, SESSIONS),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "date"),
    subject_columns={"device_key": SubjectKind.DEVICE_ID},
)
"""Internal: what the device dimension is aggregated from. Not in :data:`GOLD_TABLES` (the
tables the API serves); the gold job creates and writes it."""
GOLD_DEVICES = _table(
    "device_dimension",
    Layer.GOLD,
    DeviceDimension,
    None,
    upstream=(GOLD_DEVICE_DAYS.qualified_name,),
    retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "last_seen"),
    subject_columns={"device_key": SubjectKind.DEVICE_ID},
)
GOLD_INSTALL_COHORTS = _table(
    "install_cohorts",
    Layer.GOLD,
    InstallCohort,
    "install_date",
    upstream=(SILVER, SESSIONS, GOLD_DEVICES.qualified_name),
)

GOLD_TABLES = (
    GOLD_ACTIVE_USERS,
    GOLD_SESSION_STATS,
    GOLD_SCREEN_STATS,
    GOLD_SCREEN_TRANSITIONS,
    GOLD_INSTALL_COHORTS,
    GOLD_VERSION_ADOPTION,
    GOLD_OS_ADOPTION,
    GOLD_CRASH_FREE,
    GOLD_DEVICES,
)
