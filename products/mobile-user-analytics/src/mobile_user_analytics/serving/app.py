"""The mobile-user-analytics API: routes are thin, each one calls a query in ``serving.queries``.

Build it with :func:`create_app`; ``uvicorn --factory mobile_user_analytics.serving.app:app_from_environment``
serves it with the product configuration and the lake root of the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query

from lakehouse_core.serving.api import create_table_api, served_table
from lakehouse_core.serving.auth import require_role
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.errors import error_responses
from lakehouse_core.serving.params import DateRangeQuery, Page, PaginationQuery
from lakehouse_core.serving.tables import ServedTable
from lakehouse_core.settings import get_settings
from mobile_user_analytics import PRODUCT
from mobile_user_analytics.config import MobileConfig, load_mobile_config
from mobile_user_analytics.contracts import (
    ActiveUsers,
    AppSession,
    CrashFree,
    DeviceDimension,
    InstallCohort,
    OsAdoption,
    SessionStats,
    VersionAdoption,
)
from mobile_user_analytics.serving.models import ScreenSummary, ScreenTransitionTotal
from mobile_user_analytics.serving.params import (
    AppVersionFilter,
    AppVersionTotal,
    PlatformFilter,
    PlatformTotal,
)
from mobile_user_analytics.serving.queries.activity import active_users, session_stats
from mobile_user_analytics.serving.queries.adoption import os_adoption, version_adoption
from mobile_user_analytics.serving.queries.crashes import crash_free
from mobile_user_analytics.serving.queries.devices import device, device_sessions
from mobile_user_analytics.serving.queries.installs import install_cohorts
from mobile_user_analytics.serving.queries.screens import ScreenOrder, screen_transitions, top_screens
from mobile_user_analytics.storage.tables import GOLD_TABLES, SILVER_SESSIONS

ANALYST = "analyst"
DEVICE_READER = "device_reader"
SERVED_SPECS = (*GOLD_TABLES, SILVER_SESSIONS)
#: A route reading a table over a date range: 400 for a range it refuses, 503 before the table exists.
RANGE_OVER_TABLE = error_responses(400, 503)

DeviceKey = Annotated[
    str, Path(min_length=1, max_length=256, description="Pseudonymous device key, as in the tables.")
]


@dataclass(frozen=True)
class ServedTables:
    """The served tables, each field named as its table."""

    active_users: ServedTable
    session_stats: ServedTable
    screen_stats: ServedTable
    screen_transitions: ServedTable
    install_cohorts: ServedTable
    version_adoption: ServedTable
    os_adoption: ServedTable
    crash_free: ServedTable
    device_dimension: ServedTable
    sessions: ServedTable

    @classmethod
    def open(cls, lake_root: str, cache: QueryCache) -> ServedTables:
        return cls(**{spec.name: served_table(spec, lake_root, cache) for spec in SERVED_SPECS})


def create_app(config: MobileConfig, *, lake_root: str, cache: QueryCache | None = None) -> FastAPI:
    """The API over the tables under ``lake_root``. ``/ready`` checks that every gold table and
    silver sessions can be opened."""
    cache = cache or QueryCache()
    tables = ServedTables.open(lake_root, cache)
    app = create_table_api(
        service=PRODUCT,
        version=version(PRODUCT),
        description=config.description,
        served=SERVED_SPECS,
        lake_root=lake_root,
        api_keys=config.api_keys,
        cache=cache,
        keep_responses=True,
    )
    app.include_router(analytics_router(tables))
    app.include_router(devices_router(tables))
    return app


def app_from_environment() -> FastAPI:
    return create_app(load_mobile_config(), lake_root=get_settings().lake_root)


def analytics_router(tables: ServedTables) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["analytics"],
        dependencies=[Depends(require_role(ANALYST, open_when_no_keys=True))],
        responses=error_responses(401, 403),
    )

    @router.get("/active-users", response_model=list[ActiveUsers], responses=RANGE_OVER_TABLE)
    def get_active_users(dates: DateRangeQuery, platform: PlatformTotal = "all") -> list[ActiveUsers]:
        """DAU, WAU, MAU and stickiness per day."""
        return active_users(tables.active_users, dates, platform=platform)

    @router.get("/sessions", response_model=list[SessionStats], responses=RANGE_OVER_TABLE)
    def get_sessions(
        dates: DateRangeQuery, platform: PlatformTotal = "all", app_version: AppVersionTotal = "all"
    ) -> list[SessionStats]:
        """Sessions, devices and session lengths per day."""
        return session_stats(tables.session_stats, dates, platform=platform, app_version=app_version)

    @router.get("/screens/top", response_model=Page[ScreenSummary], responses=RANGE_OVER_TABLE)  # type: ignore[valid-type]
    def get_top_screens(
        dates: DateRangeQuery, page: PaginationQuery, order_by: ScreenOrder = "views"
    ) -> object:
        """Screens over the range, best first."""
        return Page.of(top_screens(tables.screen_stats, dates, order_by=order_by), page)

    @router.get(
        "/screens/transitions",
        response_model=Page[ScreenTransitionTotal],  # type: ignore[valid-type]
        responses=RANGE_OVER_TABLE,
    )
    def get_screen_transitions(
        dates: DateRangeQuery,
        page: PaginationQuery,
        from_screen: Annotated[
            str | None, Query(min_length=1, max_length=256, description="Only steps leaving this screen.")
        ] = None,
    ) -> object:
        """Screen-to-screen steps over the range, most frequent first."""
        return Page.of(screen_transitions(tables.screen_transitions, dates, from_screen=from_screen), page)

    @router.get("/installs", response_model=list[InstallCohort], responses=RANGE_OVER_TABLE)
    def get_installs(dates: DateRangeQuery, platform: PlatformTotal = "all") -> list[InstallCohort]:
        """Install cohorts by install date (start and end select install dates)."""
        return install_cohorts(tables.install_cohorts, dates, platform=platform)

    @router.get("/adoption/versions", response_model=list[VersionAdoption], responses=RANGE_OVER_TABLE)
    def get_version_adoption(
        dates: DateRangeQuery, platform: PlatformFilter = "all", app_version: AppVersionFilter = None
    ) -> list[VersionAdoption]:
        """Active devices per app version and day, and their share of the platform's devices."""
        return version_adoption(tables.version_adoption, dates, platform=platform, app_version=app_version)

    @router.get("/adoption/os", response_model=list[OsAdoption], responses=RANGE_OVER_TABLE)
    def get_os_adoption(dates: DateRangeQuery, platform: PlatformFilter = "all") -> list[OsAdoption]:
        """Active devices per OS version and day, and their share of the platform's devices."""
        return os_adoption(tables.os_adoption, dates, platform=platform)

    @router.get("/crash-free", response_model=list[CrashFree], responses=RANGE_OVER_TABLE)
    def get_crash_free(
        dates: DateRangeQuery, platform: PlatformTotal = "all", app_version: AppVersionFilter = None
    ) -> list[CrashFree]:
        """Crash-free sessions and devices per day and app version."""
        return crash_free(tables.crash_free, dates, platform=platform, app_version=app_version)

    return router


def devices_router(tables: ServedTables) -> APIRouter:
    router = APIRouter(
        prefix="/v1/devices",
        tags=["devices"],
        dependencies=[Depends(require_role(DEVICE_READER))],
        responses=error_responses(401, 403),
    )

    @router.get("/{device_key}", response_model=DeviceDimension, responses=error_responses(404, 503))
    def get_device(device_key: DeviceKey) -> DeviceDimension:
        """One pseudonymous device: platform, model, latest versions, first and last seen, counts."""
        found = device(tables.device_dimension, device_key)
        if found is None:
            raise HTTPException(404, f"unknown device '{device_key}'")
        return found

    @router.get("/{device_key}/sessions", response_model=Page[AppSession], responses=RANGE_OVER_TABLE)
    def get_device_sessions(
        device_key: DeviceKey, dates: DateRangeQuery, page: PaginationQuery
    ) -> Page[AppSession]:
        """One pseudonymous device's sessions, newest first."""
        return Page.of(device_sessions(tables.sessions, device_key, dates), page)

    return router
