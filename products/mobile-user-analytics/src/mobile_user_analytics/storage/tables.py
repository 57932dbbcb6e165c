"""Every table of mobile-user-analytics, declared once: name, layer, schema, partitioning."""

from __future__ import annotations

from pydantic import BaseModel

from lakehouse_core.contracts import spark_schema
from lakehouse_core.ingestion.bronze import bronze_table
from lakehouse_core.ingestion.quarantine import quarantine_table
from lakehouse_core.tables import Layer, TableSpec
from mobile_user_analytics import PRODUCT
from mobile_user_analytics.contracts import (
    ActiveUsers,
    AppSession,
    CrashFree,
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

BRONZE_EVENTS = bronze_table(PRODUCT)
QUARANTINE_EVENTS = quarantine_table(PRODUCT)


def _table(name: str, layer: Layer, model: type[BaseModel], partition: str | None) -> TableSpec:
    return TableSpec(
        name=name,
        layer=layer,
        product=PRODUCT,
        schema=spark_schema(model),
        partition_by=(partition,) if partition else (),
        description=model.__doc__ or "",
    )


SILVER_EVENTS = _table("events", Layer.SILVER, MobileEvent, "event_date")
SILVER_SESSIONS = _table("sessions", Layer.SILVER, AppSession, "session_date")
SILVER_SCREEN_VIEWS = _table("screen_views", Layer.SILVER, ScreenView, "event_date")

GOLD_ACTIVE_USERS = _table("active_users", Layer.GOLD, ActiveUsers, "date")
GOLD_SESSION_STATS = _table("session_stats", Layer.GOLD, SessionStats, "date")
GOLD_SCREEN_STATS = _table("screen_stats", Layer.GOLD, ScreenStats, "date")
GOLD_SCREEN_TRANSITIONS = _table("screen_transitions", Layer.GOLD, ScreenTransition, "date")
GOLD_INSTALL_COHORTS = _table("install_cohorts", Layer.GOLD, InstallCohort, "install_date")
GOLD_VERSION_ADOPTION = _table("version_adoption", Layer.GOLD, VersionAdoption, "date")
GOLD_OS_ADOPTION = _table("os_adoption", Layer.GOLD, OsAdoption, "date")
GOLD_CRASH_FREE = _table("crash_free", Layer.GOLD, CrashFree, "date")
GOLD_DEVICES = _table("device_dimension", Layer.GOLD, DeviceDimension, None)

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
