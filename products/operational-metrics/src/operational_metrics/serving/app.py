"""The operational-metrics API: routes are thin, each one calls a query in ``serving.queries``.

Build it with :func:`create_app`; ``uvicorn --factory operational_metrics.serving.app:app_from_environment``
serves it with the product configuration and the lake root of the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query

from lakehouse_core.platform_topics import AttemptStatus
from lakehouse_core.serving.api import create_table_api
from lakehouse_core.serving.auth import require_role
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.errors import error_responses
from lakehouse_core.serving.params import DateRangeQuery, Page, PaginationQuery
from lakehouse_core.settings import get_settings
from operational_metrics import PRODUCT
from operational_metrics.config import OpsConfig, load_ops_config
from operational_metrics.contracts import (
    Anomaly,
    AnomalyMetric,
    AssetCost,
    CompliancePeriod,
    FreshnessState,
    Incident,
    IncidentKind,
    IncidentStatus,
    RunAttempt,
    RunStats,
    SlaCompliance,
)
from operational_metrics.serving import queries
from operational_metrics.serving.metrics import OpsCollector
from operational_metrics.serving.models import FreshnessNow, IncidentSummary, PipelineRunDetail
from operational_metrics.serving.queries import freshness_now, pipeline_run, run_stats, runs
from operational_metrics.serving.tables import SERVED_SPECS, ServedTables

OPERATOR = "operator"
RANGE_OVER_TABLE = error_responses(400, 503)
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"

ProductFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=100, pattern=NAME_PATTERN, description="Only this product (its name)."),
]
AssetFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=200, pattern=NAME_PATTERN, description="Only this asset (task)."),
]
StatusFilter = Annotated[AttemptStatus | None, Query(description="Only attempts with this status.")]
LayerFilter = Annotated[
    Literal["bronze", "silver", "gold", "quarantine"] | None, Query(description="Only tables of this layer.")
]
TableFilter = Annotated[
    str | None,
    Query(
        alias="table",
        min_length=1,
        max_length=300,
        pattern=NAME_PATTERN,
        description="Only this table (<product>.<layer>.<table>).",
    ),
]
KindFilter = Annotated[IncidentKind | None, Query(description="Only incidents of this kind.")]
IncidentStatusFilter = Annotated[IncidentStatus | None, Query(description="Only open, or only closed, ones.")]
PeriodQuery = Annotated[CompliancePeriod, Query(description="day rows or month rows.")]
MetricFilter = Annotated[AnomalyMetric | None, Query(description="Only anomalies of this metric.")]
StateFilter = Annotated[FreshnessState | None, Query(description="Only tables in this SLA state.")]
RunId = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$", description="The pipeline run's id."),
]


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def create_app(
    config: OpsConfig,
    *,
    lake_root: str,
    cache: QueryCache | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """The API over the tables under ``lake_root``; ``clock`` is the time freshness is aged to.
    ``/ready`` checks that silver runs and every gold table can be opened."""
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
        api_keys_variable="OPS_API_KEYS",
    )
    app.state.registry.register(OpsCollector(tables, clock))
    app.include_router(operations_router(tables, clock))
    return app


def app_from_environment() -> FastAPI:
    return create_app(load_ops_config(), lake_root=get_settings().lake_root)


def operations_router(tables: ServedTables, clock: Callable[[], datetime]) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["operations"],
        dependencies=[Depends(require_role(OPERATOR, open_when_no_keys=True))],
        responses=error_responses(401, 403),
    )

    @router.get("/runs", response_model=Page[RunAttempt], responses=RANGE_OVER_TABLE)  # type: ignore[valid-type]
    def get_runs(
        dates: DateRangeQuery,
        page: PaginationQuery,
        product: ProductFilter = None,
        asset: AssetFilter = None,
        status: StatusFilter = None,
    ) -> object:
        """Attempts of assets started in the range (UTC days), newest first; one per record id."""
        return Page.of(runs(tables.runs, dates, product=product, asset=asset, status=status), page)

    @router.get("/runs/{run_id}", response_model=PipelineRunDetail, responses=error_responses(404, 503))
    def get_run(run_id: RunId) -> PipelineRunDetail:
        """One pipeline run with every attempt of its tasks."""
        found = pipeline_run(tables.runs, run_id)
        if found is None:
            raise HTTPException(404, f"no attempt of run '{run_id}' is stored; list runs with /v1/runs")
        return found

    @router.get("/run-stats", response_model=Page[RunStats], responses=RANGE_OVER_TABLE)  # type: ignore[valid-type]
    def get_run_stats(
        dates: DateRangeQuery, page: PaginationQuery, product: ProductFilter = None, asset: AssetFilter = None
    ) -> object:
        """Runs, failures, retries, durations and rows per product, asset and day."""
        return Page.of(run_stats(tables.run_stats, dates, product=product, asset=asset), page)

    @router.get("/freshness", response_model=list[FreshnessNow], responses=error_responses(503))
    def get_freshness(
        product: ProductFilter = None, layer: LayerFilter = None, state: StateFilter = None
    ) -> list[FreshnessNow]:
        """Every catalogued table's freshness now against its SLA (the last check's newest data,
        aged to now)."""
        return freshness_now(tables.freshness, clock(), product=product, layer=layer, state=state)

    @router.get("/incidents", response_model=Page[Incident], responses=RANGE_OVER_TABLE)  # type: ignore[valid-type]
    def get_incidents(
        dates: DateRangeQuery,
        page: PaginationQuery,
        *,
        product: ProductFilter = None,
        asset: AssetFilter = None,
        table: TableFilter = None,
        kind: KindFilter = None,
        status: IncidentStatusFilter = None,
    ) -> object:
        """Incidents open at some time in the range (UTC days), newest first: failing assets and
        SLA breaches, with their time to detect and to recover."""
        found = queries.incidents(
            tables.incidents, dates, product=product, asset=asset, table_name=table, kind=kind, status=status
        )
        return Page.of(found, page)

    @router.get("/incidents/summary", response_model=list[IncidentSummary], responses=RANGE_OVER_TABLE)
    def get_incident_summary(dates: DateRangeQuery, product: ProductFilter = None) -> list[IncidentSummary]:
        """Per product: the incidents open at some time in the range, mean and max time to detect
        and to recover."""
        return queries.incident_summary(queries.incidents(tables.incidents, dates, product=product))

    @router.get("/sla-compliance", response_model=Page[SlaCompliance], responses=RANGE_OVER_TABLE)  # type: ignore[valid-type]
    def get_sla_compliance(
        dates: DateRangeQuery,
        page: PaginationQuery,
        period: PeriodQuery = "day",
        product: ProductFilter = None,
        table: TableFilter = None,
    ) -> object:
        """Each table's share of freshness checks in ok, warn and breach per day (or month)."""
        found = queries.sla_compliance(
            tables.sla_compliance, dates, period=period, product=product, table_name=table
        )
        return Page.of(found, page)

    @router.get("/cost", response_model=Page[AssetCost], responses=RANGE_OVER_TABLE)  # type: ignore[valid-type]
    def get_cost(
        dates: DateRangeQuery, page: PaginationQuery, product: ProductFilter = None, asset: AssetFilter = None
    ) -> object:
        """CPU, memory and bytes written per product, asset and day, priced at the configured rates,
        with the cost per 1,000 rows written."""
        return Page.of(queries.cost(tables.cost, dates, product=product, asset=asset), page)

    @router.get("/anomalies", response_model=Page[Anomaly], responses=RANGE_OVER_TABLE)  # type: ignore[valid-type]
    def get_anomalies(
        dates: DateRangeQuery,
        page: PaginationQuery,
        product: ProductFilter = None,
        asset: AssetFilter = None,
        metric: MetricFilter = None,
    ) -> object:
        """Runs started in the range (UTC days) whose rows written, duration, quarantine rate or
        cost fell outside their seasonal baseline, newest first, with the expected range and score."""
        found = queries.anomalies(tables.anomalies, dates, product=product, asset=asset, metric=metric)
        return Page.of(found, page)

    return router
