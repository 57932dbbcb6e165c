"""The FastAPI application shell every service shares: ``/health``, ``/ready``, ``/metrics``,
a correlation id per request (``X-Correlation-ID`` in and out), request metrics, and the
interactive documentation (``/docs``, ``/redoc``) served with its assets from this process, so
it works without network access (the assets come from the ``fastapi-offline`` package).

Products build their app with :func:`create_service_app` and include their own routers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse_core.health import HealthCheck, LivenessReport, ReadinessReport, run_checks
from lakehouse_core.metrics import HttpMetrics, QueryCacheCollector, exposition, service_registry
from lakehouse_core.structured_logging import correlation_scope

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_KEY = CORRELATION_HEADER.lower().encode("latin-1")


def correlation_id_in(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The ``X-Correlation-ID`` among raw ASGI ``headers`` (lower-case names), if any."""
    return next((v.decode("latin-1") for k, v in headers if k == _CORRELATION_KEY), None)


#: Where the documentation pages' JavaScript, CSS and icon are served.
DOCS_ASSETS_PATH = "/docs/assets"


def health_router(
    *, service: str, version: str, checks: Sequence[HealthCheck], registry: CollectorRegistry
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", response_model=LivenessReport)
    def health() -> LivenessReport:
        """Alive: the process serves requests."""
        return LivenessReport(status="ok", service=service, version=version)

    @router.get("/ready", response_model=ReadinessReport, responses={503: {"model": ReadinessReport}})
    def ready() -> JSONResponse:
        """Ready: every dependency answers; 503 with the failing checks otherwise."""
        report = run_checks(checks)
        return JSONResponse(report.model_dump(), status_code=200 if report.status == "ok" else 503)

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, content_type = exposition(registry)
        return Response(body, media_type=content_type)

    return router


def install_offline_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with every asset served by ``app`` itself under
    :data:`DOCS_ASSETS_PATH`: FastAPI's own pages load them from a CDN and stay blank offline."""
    app.mount(DOCS_ASSETS_PATH, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS_PATH}/favicon.png",
            # Swagger UI would otherwise ask validator.swagger.io to judge the document.
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )


def route_template(app: FastAPI, served: Mapping[str, Any], received: Mapping[str, Any]) -> str:
    """The path template of the route that served a request (its scope ``served`` after
    routing, ``received`` as it arrived); ``unmatched`` when none did. FastAPI's own routes
    name themselves in the scope; Starlette's (``/openapi.json``, the mounted documentation
    assets) are found by matching the request as it arrived."""
    route = served.get("route")
    if route is not None:
        return str(getattr(route, "path", "unmatched"))
    for candidate in app.router.routes:
        match, _ = candidate.matches(dict(received))
        if match is Match.FULL:
            return str(getattr(candidate, "path", "unmatched"))
    return "unmatched"


class ObservedRequests:
    """ASGI middleware: a correlation id per request (``X-Correlation-ID`` in, or a new one, and
    out on the response) and the request metrics by route template and status; a request that
    raises counts as a 500."""

    def __init__(self, app: ASGIApp, *, owner: FastAPI, http: HttpMetrics) -> None:
        self.app = app
        self.owner = owner
        self.http = http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        received = dict(scope)
        incoming = correlation_id_in(scope["headers"])
        status = 500
        with correlation_scope(incoming) as correlation_id:
            outgoing = correlation_id.encode("latin-1")

            async def send_observed(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    message["headers"] = [
                        *(h for h in message.get("headers", ()) if h[0].lower() != _CORRELATION_KEY),
                        (_CORRELATION_KEY, outgoing),
                    ]
                await send(message)

            try:
                await self.app(scope, receive, send_observed)
            finally:
                template = route_template(self.owner, scope, received)
                method = scope["method"]
                self.http.requests.labels(method, template, str(status)).inc()
                self.http.latency.labels(method, template).observe(time.perf_counter() - started)


def create_service_app(
    *,
    service: str,
    version: str,
    checks: Sequence[HealthCheck] = (),
    registry: CollectorRegistry | None = None,
    description: str = "",
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    registry = registry or service_registry()
    app = FastAPI(
        title=service,
        version=version,
        description=description,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_offline_docs(app)
    app.state.registry = registry
    http = HttpMetrics.register(registry)
    registry.register(QueryCacheCollector(lambda: getattr(app.state, "query_cache", None)))

    app.add_middleware(ObservedRequests, owner=app, http=http)
    app.include_router(health_router(service=service, version=version, checks=checks, registry=registry))
    return app
