"""API keys with roles, sent in the ``X-API-Key`` header.

The keys and their roles are configuration (a mapping key → roles, :class:`StaticApiKeys`) or a
key store (the platform gateway's), either installed on the app with :func:`install_api_keys`:
anything that answers :class:`ApiKeys` will do. :func:`require_role` builds the dependency that
guards a route.
Missing or unknown key: 401. A key without the role: 403. With no keys configured, routes
declared ``open_when_no_keys`` are open and every other route answers 403, so per-user data is
never served without keys; :func:`~lakehouse_core.serving.api.create_table_api` allows running
without keys in ``dev`` only.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Protocol, runtime_checkable

from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

API_KEY_HEADER = "X-API-Key"

_api_key_header = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An API key; its roles decide what it may read."
)


@runtime_checkable
class ApiKeys(Protocol):
    """What a guard asks of the installed keys: are there any, and which roles has this one."""

    @property
    def configured(self) -> bool: ...

    def roles_of(self, presented: str) -> frozenset[str] | None:
        """The roles of ``presented``; None when it is not a key in force (unknown, expired, revoked)."""
        ...


@dataclass(frozen=True)
class StaticApiKeys:
    """Keys from configuration: a mapping of key to roles."""

    roles_by_key: Mapping[str, frozenset[str]]

    @classmethod
    def from_mapping(cls, keys: Mapping[str, Iterable[str]]) -> StaticApiKeys:
        return cls({key: frozenset(roles) for key, roles in keys.items()})

    @property
    def configured(self) -> bool:
        return bool(self.roles_by_key)

    def roles_of(self, presented: str) -> frozenset[str] | None:
        """The roles of ``presented``, or None when it is not a known key (constant-time compare)."""
        found: frozenset[str] | None = None
        for key, roles in self.roles_by_key.items():
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = roles
        return found


def install_api_keys(app: FastAPI, keys: Mapping[str, Iterable[str]] | ApiKeys) -> None:
    app.state.api_keys = keys if isinstance(keys, ApiKeys) else StaticApiKeys.from_mapping(keys)


def _installed_keys(app: FastAPI) -> ApiKeys:
    keys = getattr(app.state, "api_keys", None)
    if not isinstance(keys, ApiKeys):
        raise RuntimeError("the app guards routes with require_role but install_api_keys was never called")
    return keys


def require_role(
    *roles: str, open_when_no_keys: bool = False
) -> Callable[[Request, str | None], Awaitable[None]]:
    """A dependency that lets a request through only with a key holding one of ``roles``.

    ``open_when_no_keys`` opens the route when no keys are configured at all: right for
    aggregates in local development, wrong for anything about a single person. The guard is a
    coroutine (it runs in the event loop), so the key store's ``roles_of`` must not block.
    """
    if not roles:
        raise ValueError("require_role needs at least one role")
    wanted = frozenset(roles)
    named = " or ".join(f"'{r}'" for r in roles)

    async def guard(request: Request, api_key: Annotated[str | None, Security(_api_key_header)]) -> None:
        keys = _installed_keys(request.app)
        if not keys.configured:
            if open_when_no_keys:
                return
            raise HTTPException(
                403,
                f"this endpoint requires role {named} and no API keys are configured; "
                f"configure a key with role {named} to use it",
            )
        if not api_key:
            raise HTTPException(
                401, f"missing {API_KEY_HEADER} header", headers={"WWW-Authenticate": API_KEY_HEADER}
            )
        held = keys.roles_of(api_key)
        if held is None:
            raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": API_KEY_HEADER})
        if not held & wanted:
            what = f"role {named}" if len(roles) == 1 else f"any of the roles {named}"
            raise HTTPException(403, f"this API key does not have {what}")

    return guard
