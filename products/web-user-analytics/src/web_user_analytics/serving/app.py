"""The web-user-analytics API: routes are thin, each one calls a query in ``serving.queries``.

Build it with :func:`create_app`; ``uvicorn --factory web_user_analytics.serving.app:app_from_environment``
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
from lakehouse_core.tables import TableSpec
from web_user_analytics import PRODUCT
from web_user_analytics.config import FunnelConfig, WebConfig, load_web_config
from web_user_analytics.contracts import DailyTraffic, RetentionCohort, WebSession
from web_user_analytics.serving.models import AcquisitionGroup, FunnelReport, PageSummary, TrafficPeriod
from web_user_analytics.serving.params import WeekRangeQuery
from web_user_analytics.serving.queries.acquisition import AcquisitionDimension, acquisition
from web_user_analytics.serving.queries.funnels import funnel_report
from web_user_analytics.serving.queries.pages import PageOrder, top_pages
from web_user_analytics.serving.queries.retention import cohorts
from web_user_analytics.serving.queries.sessions import visitor_sessions
from web_user_analytics.serving.queries.traffic import Granularity, traffic
from web_user_analytics.storage.tables import (
    GOLD_ACQUISITION,
    GOLD_DAILY_TRAFFIC,
    GOLD_FUNNEL_STEPS,
    GOLD_PAGE_STATS,
    GOLD_RETENTION,
    GOLD_TABLES,
    SILVER_SESSIONS,
)

ANALYST = "analyst"
USER_READER = "user_reader"
SERVED_SPECS = (*GOLD_TABLES, SILVER_SESSIONS)
#: A route reading a table over a date range: 400 for a range it refuses, 503 before the table exists.
RANGE_OVER_TABLE = error_responses(400, 503)


@dataclass(frozen=True)
class ServedTables:
    traffic: ServedTable
    pages: ServedTable
    acquisition: ServedTable
    funnels: ServedTable
    retention: ServedTable
    sessions: ServedTable

    @classmethod
    def open(cls, lake_root: str, cache: QueryCache) -> ServedTables:
        def served(spec: TableSpec) -> ServedTable:
            return served_table(spec, lake_root, cache)

        return cls(
            traffic=served(GOLD_DAILY_TRAFFIC),
            pages=served(GOLD_PAGE_STATS),
            acquisition=served(GOLD_ACQUISITION),
            funnels=served(GOLD_FUNNEL_STEPS),
            retention=served(GOLD_RETENTION),
            sessions=served(SILVER_SESSIONS),
        )


def create_app(config: WebConfig, *, lake_root: str, cache: QueryCache | None = None) -> FastAPI:
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
    app.include_router(analytics_router(config, tables))
    app.include_router(visitors_router(tables))
    return app


def app_from_environment() -> FastAPI:
    return create_app(load_web_config(), lake_root=get_settings().lake_root)


def analytics_router(config: WebConfig, tables: ServedTables) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["analytics"],
        dependencies=[Depends(require_role(ANALYST, open_when_no_keys=True))],
        responses=error_responses(401, 403),
    )
    funnels_by_name = {funnel.name: funnel for funnel in config.funnels}

    @router.get(
        "/traffic",
        response_model=list[DailyTraffic] | list[TrafficPeriod],  # type: ignore[valid-type]
        responses=RANGE_OVER_TABLE,
    )
    def get_traffic(
        dates: DateRangeQuery,
        granularity: Granularity = "day",
        device_type: Annotated[str, Query(description="A device type, or 'all' for the total.")] = "all",
        country: Annotated[str, Query(description="A country code, or 'all' for the total.")] = "all",
    ) -> object:
        """Traffic per day, week (from Monday) or month (from the 1st)."""
        return traffic(
            tables.traffic, dates, granularity=granularity, device_type=device_type, country=country
        )

    @router.get("/pages/top", response_model=Page[PageSummary], responses=RANGE_OVER_TABLE)  # type: ignore[valid-type]
    def get_top_pages(dates: DateRangeQuery, page: PaginationQuery, order_by: PageOrder = "views") -> object:
        """Pages over the range, best first."""
        return Page.of(top_pages(tables.pages, dates, order_by=order_by), page)

    @router.get("/acquisition", response_model=Page[AcquisitionGroup], responses=RANGE_OVER_TABLE)  # type: ignore[valid-type]
    def get_acquisition(
        dates: DateRangeQuery, page: PaginationQuery, group_by: AcquisitionDimension = "source"
    ) -> object:
        """Sessions by source, medium, campaign or referrer host, most sessions first."""
        return Page.of(acquisition(tables.acquisition, dates, group_by=group_by), page)

    @router.get("/funnels", response_model=list[FunnelConfig])
    def list_funnels() -> list[FunnelConfig]:
        """The configured funnels: each step's alternatives, in order, and the conversion window."""
        return list(config.funnels)

    @router.get("/funnels/{name}", response_model=FunnelReport, responses=error_responses(400, 404, 503))
    def get_funnel(name: str, dates: DateRangeQuery) -> FunnelReport:
        """Sessions per step over the range; conversions from the summed sessions."""
        funnel = funnels_by_name.get(name)
        if funnel is None:
            known = ", ".join(sorted(funnels_by_name)) or "none"
            raise HTTPException(404, f"unknown funnel '{name}'; configured funnels: {known}")
        return funnel_report(tables.funnels, funnel, dates)

    @router.get("/retention", response_model=list[RetentionCohort], responses=RANGE_OVER_TABLE)
    def get_retention(weeks: WeekRangeQuery) -> list[RetentionCohort]:
        """Weekly cohorts and how many of them came back each following week."""
        return cohorts(tables.retention, weeks)

    return router


def visitors_router(tables: ServedTables) -> APIRouter:
    router = APIRouter(
        prefix="/v1/users",
        tags=["visitors"],
        dependencies=[Depends(require_role(USER_READER))],
        responses=error_responses(401, 403),
    )

    @router.get("/{visitor_id}/sessions", response_model=Page[WebSession], responses=RANGE_OVER_TABLE)
    def get_visitor_sessions(
        visitor_id: Annotated[
            str, Path(min_length=1, max_length=256, description="Pseudonymous visitor id.")
        ],
        dates: DateRangeQuery,
        page: PaginationQuery,
    ) -> Page[WebSession]:
        """One pseudonymous visitor's sessions, newest first."""
        return Page.of(visitor_sessions(tables.sessions, visitor_id, dates), page)

    return router
