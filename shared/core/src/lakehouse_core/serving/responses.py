"""Whole responses kept per table version: a repeated request answers from memory, without
routing, parameter parsing, the query or serialisation.

A response is kept when it is a ``200`` to a ``GET`` that read at least one served table (see
:func:`~lakehouse_core.serving.tables.recording_reads`); it is given again while every table it
read is still at the version it read, to a request for the same path and query, on the same UTC
day (a default date range ends today), presenting an API key with the same roles (the guards of
:func:`~lakehouse_core.serving.auth.require_role` decide by roles alone). A request with a key the
installed keys do not know goes the whole way, and gets its 401 there.

The middleware sits inside the request metrics and the read audit: an answer from memory is
counted, audited and noted as a read of its table versions like any other. Entries live in the
app's :class:`~lakehouse_core.serving.cache.QueryCache`, under its bound on bytes; a request
answered from one counts as a hit of that cache, one that is not counts nothing here (its
queries count their own hits and misses).

Only for APIs whose answers depend on nothing but the tables, the request and the day: a route
reading the clock (``now``) must not be served through it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.serving.auth import API_KEY_HEADER, ApiKeys
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.params import utc_today
from lakehouse_core.serving.tables import TableRead, note_read, recording_reads

#: The cache "location" the responses are kept under.
RESPONSES = "<responses>"
#: Larger bodies are not kept.
MAX_BODY_BYTES = 1024 * 1024

_API_KEY = API_KEY_HEADER.lower().encode("latin-1")
_OPEN = "<no keys configured>"


@dataclass(frozen=True)
class KeptResponse:
    reads: tuple[TableRead, ...]
    route: Any
    path_params: dict[str, Any]
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def current(self) -> bool:
        """Whether every table read is still at the version that was read."""
        try:
            return all(r.table is not None and r.table.version() == r.version for r in self.reads)
        except TableNotFoundError:
            return False


class KeptResponses:
    """ASGI middleware keeping responses per table version (see the module)."""

    def __init__(self, app: ASGIApp, *, owner: FastAPI, cache: QueryCache) -> None:
        self.app = app
        self.owner = owner
        self.cache = cache

    def _key(self, scope: Scope) -> Hashable | None:
        """What identifies the answer to ``scope``; None when it is not to be kept or looked up."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        keys = getattr(self.owner.state, "api_keys", None)
        if not isinstance(keys, ApiKeys):
            return None
        roles: frozenset[str] | str | None = _OPEN
        if keys.configured:
            presented = next((v for k, v in scope["headers"] if k == _API_KEY), None)
            roles = keys.roles_of(presented.decode("latin-1")) if presented else None
            if roles is None:
                return None
        return (scope.get("root_path", ""), scope["path"], scope["query_string"], roles, utc_today())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        found, kept = self.cache.lookup(RESPONSES, 0, key, count=False)
        if found and isinstance(kept, KeptResponse) and kept.current():
            self.cache.count_hit()
            scope["route"] = kept.route
            scope["path_params"] = kept.path_params
            for read in kept.reads:
                note_read(read)
            await send({"type": "http.response.start", "status": 200, "headers": list(kept.headers)})
            await send({"type": "http.response.body", "body": kept.body, "more_body": False})
            return
        await self._answer_and_keep(scope, receive, send, key)

    async def _answer_and_keep(self, scope: Scope, receive: Receive, send: Send, key: Hashable) -> None:
        status = 0
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        size = 0

        async def send_kept(message: Message) -> None:
            nonlocal status, headers, size
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
            elif message["type"] == "http.response.body" and status == 200 and size <= MAX_BODY_BYTES:
                body = message.get("body", b"")
                chunks.append(body)
                size += len(body)
            await send(message)

        with recording_reads() as reads:
            await self.app(scope, receive, send_kept)
        for read in reads:
            note_read(read)
        if status != 200 or not reads or size > MAX_BODY_BYTES or "route" not in scope:
            return
        kept = KeptResponse(
            reads=tuple(reads),
            route=scope["route"],
            path_params=dict(scope.get("path_params", {})),
            headers=headers,
            body=b"".join(chunks),
        )
        self.cache.store(RESPONSES, 0, key, kept, size=size + sum(len(k) + len(v) for k, v in headers) + 512)


def install_kept_responses(app: FastAPI, cache: QueryCache) -> None:
    """Keep ``app``'s responses per table version in ``cache``, inside every other middleware
    (call it before the app serves its first request)."""
    app.user_middleware.append(Middleware(KeptResponses, owner=app, cache=cache))
