"""The user-segmentation API: routes are thin, each one calls a query in ``serving.queries``.

Build it with :func:`create_app`; ``uvicorn --factory user_segmentation.serving.app:app_from_environment``
serves it with the product configuration and the lake root of the environment. Segment routes
need the ``analyst`` role (open when no keys are configured, in development); a person's
features and segments need ``person_reader`` (never open); removing an identity edge needs
``identity_steward``, and listing removals ``identity_steward`` or ``person_reader`` (never open).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib.metadata import version
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query

from lakehouse_core.platform_topics import new_record_id
from lakehouse_core.serving.api import create_table_api
from lakehouse_core.serving.auth import require_role
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.errors import error_responses
from lakehouse_core.serving.params import DateRangeQuery, Page, PaginationQuery
from lakehouse_core.settings import get_settings
from user_segmentation import PRODUCT
from user_segmentation.config import SEGMENT_NAME_PATTERN, SegmentationConfig, load_segmentation_config
from user_segmentation.contracts import (
    IdentityEdgeRemoval,
    ModelRun,
    PersonFeatures,
    SegmentDay,
    SegmentMembership,
)
from user_segmentation.processing.clusters import cluster_segment
from user_segmentation.serving.models import ClusterModel, RemovalCreate, SegmentMember, SegmentSummary
from user_segmentation.serving.queries import (
    cluster_model,
    members,
    model_runs,
    person_features,
    person_segments,
    segment_sizes,
    segments,
)
from user_segmentation.serving.tables import SERVED_SPECS, ServedTables
from user_segmentation.storage.removals import append_removal, edge_exists, read_removals

ANALYST = "analyst"
PERSON_READER = "person_reader"
IDENTITY_STEWARD = "identity_steward"
PERSON_ID_PATTERN = r"^p_[0-9a-f]{24}$"

SegmentName = Annotated[
    str, Path(pattern=SEGMENT_NAME_PATTERN, description="A segment's name, as configured in product.yaml.")
]
PersonId = Annotated[str, Path(pattern=PERSON_ID_PATTERN, description="A person_id: p_ and 24 hex digits.")]
Day = Annotated[date | None, Query(description="A UTC day (YYYY-MM-DD); default: the newest day computed.")]
ModelVersion = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9a-f]{16}$", description="A model version (16 hex digits); default: the newest model."
    ),
]


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def create_app(
    config: SegmentationConfig,
    *,
    lake_root: str,
    cache: QueryCache | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    """The API over the gold tables under ``lake_root``; ``/ready`` checks that they open;
    ``clock`` is the time removals are made at."""
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
        api_keys_variable="SEGMENTS_API_KEYS",
    )
    app.include_router(segments_router(tables, config))
    app.include_router(clusters_router(tables))
    app.include_router(persons_router(tables))
    app.include_router(identity_router(lake_root, clock))
    return app


def app_from_environment() -> FastAPI:
    return create_app(load_segmentation_config(), lake_root=get_settings().lake_root)


def segments_router(tables: ServedTables, config: SegmentationConfig) -> APIRouter:
    router = APIRouter(
        prefix="/v1/segments",
        tags=["segments"],
        dependencies=[Depends(require_role(ANALYST, open_when_no_keys=True))],
        responses=error_responses(401, 403),
    )

    def known(segment: str) -> None:
        if segment not in config.segments:
            raise HTTPException(
                404,
                f"no segment '{segment}'; the segments are: {', '.join(sorted(config.segments)) or 'none'}",
            )

    @router.get("", response_model=list[SegmentSummary], responses=error_responses(503))
    def get_segments() -> list[SegmentSummary]:
        """Every configured segment: its predicate, definition hash and size on the newest day."""
        return segments(tables.sizes, config.segments)

    @router.get(
        "/{segment}/members",
        response_model=Page[SegmentMember],  # type: ignore[valid-type]
        responses=error_responses(404, 503),
    )
    def get_members(segment: SegmentName, page: PaginationQuery, day: Day = None) -> object:
        """The members of a segment on a day, by person_id, a page at a time."""
        known(segment)
        on = day
        if on is None:
            summary = next(s for s in segments(tables.sizes, config.segments) if s.name == segment)
            if summary.day is None:
                raise HTTPException(404, f"segment '{segment}' has no computed day yet; run the pipeline")
            on = summary.day
        return Page.of(members(tables.memberships, segment, on), page)

    @router.get("/{segment}/sizes", response_model=list[SegmentDay], responses=error_responses(400, 404, 503))
    def get_sizes(segment: SegmentName, dates: DateRangeQuery) -> list[SegmentDay]:
        """The segment's members, entries and exits per day of the range (UTC days)."""
        known(segment)
        return segment_sizes(tables.sizes, segment, dates)

    return router


def clusters_router(tables: ServedTables) -> APIRouter:
    router = APIRouter(
        prefix="/v1",
        tags=["clusters"],
        dependencies=[Depends(require_role(ANALYST, open_when_no_keys=True))],
        responses=error_responses(401, 403),
    )

    @router.get("/clusters", response_model=ClusterModel, responses=error_responses(404, 503))
    def get_clusters(model_version: ModelVersion = None) -> ClusterModel:
        """The clusters of the newest k-means model (or of ``model_version``): each one's stable id,
        generated name, size and features against the population."""
        found = cluster_model(tables.model_runs, tables.profiles, model_version)
        if found is None:
            if model_version is None:
                raise HTTPException(
                    404, "no k-means model trained yet; run the pipeline with clustering configured"
                )
            raise HTTPException(404, f"no model version '{model_version}'; GET /v1/model-runs lists them")
        return found

    @router.get(
        "/clusters/{cluster_id}/members",
        response_model=Page[SegmentMember],  # type: ignore[valid-type]
        responses=error_responses(404, 503),
    )
    def get_cluster_members(
        cluster_id: Annotated[int, Path(ge=1, description="A stable cluster id.")],
        page: PaginationQuery,
        day: Day = None,
    ) -> object:
        """The members of cluster ``cluster_id`` (segment ``cluster-<id>``) on a day (default: the
        newest model's day), by person_id, with the spell and the model version that admitted them."""
        on = day
        if on is None:
            newest = cluster_model(tables.model_runs, tables.profiles, None)
            if newest is None:
                raise HTTPException(
                    404, "no k-means model trained yet; run the pipeline with clustering configured"
                )
            on = newest.as_of
        return Page.of(members(tables.memberships, cluster_segment(cluster_id), on), page)

    @router.get(
        "/model-runs",
        response_model=Page[ModelRun],  # type: ignore[valid-type]
        responses=error_responses(503),
    )
    def get_model_runs(page: PaginationQuery) -> object:
        """Every k-means training, newest first: features, seed, the silhouette of each k tried,
        the chosen k and the centroids under their stable ids."""
        return Page.of(model_runs(tables.model_runs), page)

    return router


def persons_router(tables: ServedTables) -> APIRouter:
    router = APIRouter(
        prefix="/v1/persons",
        tags=["persons"],
        dependencies=[Depends(require_role(PERSON_READER))],
        responses=error_responses(401, 403),
    )

    @router.get(
        "/{person_id}/segments", response_model=list[SegmentMembership], responses=error_responses(503)
    )
    def get_person_segments(person_id: PersonId, day: Day = None) -> list[SegmentMembership]:
        """The person's membership spells (with the predicate that admitted them and why they
        left); with ``day``, only those held that day. Empty when the person was never a member."""
        return person_segments(tables.memberships, person_id, day)

    @router.get("/{person_id}/features", response_model=PersonFeatures, responses=error_responses(404, 503))
    def get_person_features(person_id: PersonId, day: Day = None) -> PersonFeatures:
        """The person's features on a day (default: the newest day computed for them)."""
        found = person_features(tables.features, person_id, day)
        if found is None:
            when = f"on {day}" if day else "on any day"
            raise HTTPException(404, f"no features of person '{person_id}' {when}")
        return found

    return router


def identity_router(lake_root: str, clock: Callable[[], datetime]) -> APIRouter:
    """Removals of identity edges: each one splits the person the edge joined at the next
    identity run (docs/DESIGN.md). They name subject keys, so no route is ever open."""
    router = APIRouter(prefix="/v1/identity", tags=["identity"], responses=error_responses(401, 403))

    @router.post(
        "/removals",
        status_code=202,
        response_model=IdentityEdgeRemoval,
        dependencies=[Depends(require_role(IDENTITY_STEWARD))],
        responses=error_responses(404),
    )
    def create_removal(body: RemovalCreate) -> IdentityEdgeRemoval:
        """Record that the edges between ``node_id`` and ``subject_key`` are wrong. The next
        identity run refuses them (``refused_reason`` "removed: <reason>") and recomputes the
        newest feature day; 404 when silver.identity_edges has no such edge."""
        if not edge_exists(lake_root, node_id=body.node_id, subject_key=body.subject_key):
            raise HTTPException(
                404,
                f"no identity edge between '{body.node_id}' and subject key '{body.subject_key}' "
                "in silver.identity_edges",
            )
        now = clock()
        removal = IdentityEdgeRemoval(
            removal_id=new_record_id(),
            node_id=body.node_id,
            subject_key=body.subject_key,
            reason=body.reason,
            removed_at=now,
            removal_date=now.date(),
        )
        append_removal(lake_root, removal)
        return removal

    @router.get(
        "/removals",
        response_model=Page[IdentityEdgeRemoval],  # type: ignore[valid-type]
        dependencies=[Depends(require_role(IDENTITY_STEWARD, PERSON_READER))],
    )
    def get_removals(page: PaginationQuery) -> object:
        """Every removal, oldest first, a page at a time."""
        return Page.of(read_removals(lake_root), page)

    return router
