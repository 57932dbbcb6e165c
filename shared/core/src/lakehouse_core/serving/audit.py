"""One ``read`` audit record (``platform.audit.v1``) per API request that reads data.

A request reads data when it reaches a route of the API's own schema: not the shell's
operations routes (``/health``, ``/ready``, ``/metrics``), the documentation or an unknown path.
Its record names the route, the fingerprint of the API key presented (never the key), the key's
roles, the person whose data was asked for (the route's ``subject_key``, ``visitor_id`` or
``device_key`` path parameter: pseudonymous keys) and how the request ended. Records go through
a :class:`~lakehouse_core.kafka.spool.SpooledPublisher`, so a request never waits for Kafka.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse_core.errors import LakehouseError
from lakehouse_core.kafka.spool import SpooledPublisher, spool_folder
from lakehouse_core.platform_topics import AUDIT, AuditOutcome, AuditRecord, api_key_id
from lakehouse_core.service import correlation_id_in
from lakehouse_core.serving.auth import API_KEY_HEADER, ApiKeys
from lakehouse_core.settings import LakehouseSettings

log = logging.getLogger(__name__)

#: Path parameters that name a person (by a pseudonymous key) in the routes of the products.
SUBJECT_PARAMETERS = ("subject_key", "visitor_id", "device_key")

AuditPublish = Callable[[AuditRecord], None]


def reads_data(route: object) -> bool:
    return isinstance(route, APIRoute) and route.include_in_schema and "operations" not in route.tags


def outcome_of(status_code: int) -> AuditOutcome:
    if status_code in (401, 403):
        return "denied"
    if 400 <= status_code < 500:
        return "invalid"
    if status_code >= 500:
        return "failed"
    return "succeeded"


def read_record(
    request: Request, status_code: int, *, service: str, secret: bytes, correlation_id: str | None
) -> AuditRecord:
    """The ``read`` record of a request to a data route."""
    route = request.scope["route"]
    presented = request.headers.get(API_KEY_HEADER)
    keys = getattr(request.app.state, "api_keys", None)
    roles = keys.roles_of(presented) if presented and isinstance(keys, ApiKeys) else None
    params = request.path_params
    subject = next((str(params[name]) for name in SUBJECT_PARAMETERS if name in params), None)
    return AuditRecord(
        service=service,
        api_key_id=api_key_id(presented, secret=secret) if presented else None,
        roles=sorted(roles or ()),
        action="read",
        resource_type="endpoint",
        resource=f"{request.method} {route.path}",
        subject_key=subject,
        outcome=outcome_of(status_code),
        status_code=status_code,
        correlation_id=correlation_id,
    )


class SpooledAudit:
    """Publishes to ``platform.audit.v1``; the publisher starts with the first record."""

    def __init__(self, settings: LakehouseSettings, *, key: str) -> None:
        self.settings = settings
        self.key = key
        self._publisher: SpooledPublisher | None = None
        self._lock = threading.Lock()

    def __call__(self, record: AuditRecord) -> None:
        with self._lock:
            if self._publisher is None:
                self._publisher = SpooledPublisher(
                    self.settings.audit_bootstrap_servers,
                    AUDIT.spec,
                    spool_dir=spool_folder(self.settings.state_dir, AUDIT.name),
                )
        self._publisher.publish(record, key=self.key)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every record so far is acknowledged; False when ``timeout`` passed first."""
        return self._publisher is None or self._publisher.flush(timeout)

    def close(self, timeout: float = 5.0) -> int:
        """Stop publishing; returns how many records stay spooled for the next process."""
        return 0 if self._publisher is None else self._publisher.close(timeout)


def install_read_audit(
    app: FastAPI,
    *,
    service: str,
    publish: AuditPublish | None = None,
    settings: LakehouseSettings | None = None,
) -> None:
    """Audit every data read of ``app``: through ``publish`` when given, else to the Kafka of
    ``settings.audit_bootstrap_servers`` (the environment's settings by default); nothing is
    installed when neither is set. The publishing function is on ``app.state.read_audit``."""
    settings = settings or LakehouseSettings()
    if publish is None:
        if not settings.audit_bootstrap_servers:
            return
        publish = SpooledAudit(settings, key=service)
    app.state.read_audit = emit = publish
    secret = settings.api_key_fingerprint_secret.get_secret_value().encode()

    def audit(request: Request, status_code: int, correlation_id: str | None) -> None:
        try:
            emit(
                read_record(
                    request, status_code, service=service, secret=secret, correlation_id=correlation_id
                )
            )
        except LakehouseError:
            log.exception("audit record not recorded", extra={"path": request.url.path})

    app.add_middleware(AuditedReads, audit=audit)


def _correlation_of(message: Message) -> str | None:
    return correlation_id_in(message.get("headers", ()))


class AuditedReads:
    """ASGI middleware calling ``audit(request, status, correlation id)`` once the response of a
    request to a data route has started (500 when the route raised before answering)."""

    def __init__(self, app: ASGIApp, *, audit: Callable[[Request, int, str | None], None]) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def send_audited(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                if reads_data(scope.get("route")):
                    self.audit(Request(scope), message["status"], _correlation_of(message))
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            if not answered and reads_data(scope.get("route")):
                self.audit(Request(scope), 500, None)
            raise
