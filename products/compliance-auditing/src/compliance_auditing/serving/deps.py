"""Route guards: a key holding any one of several roles (the core shell's ``require_role``
checks one role), with the same answers: 401 for a missing or unknown key, 403 for a key
without the roles or when no keys are configured (this API is about single people)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from lakehouse_core.serving.auth import API_KEY_HEADER, ApiKeys

_api_key = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An API key with a role of this API."
)


def require_any_role(*roles: str) -> Callable[[Request, str | None], None]:
    wanted = frozenset(roles)
    named = " or ".join(f"'{r}'" for r in roles)

    def guard(request: Request, api_key: Annotated[str | None, Security(_api_key)]) -> None:
        keys = getattr(request.app.state, "api_keys", None)
        if not isinstance(keys, ApiKeys) or not keys.configured:
            raise HTTPException(
                403, f"this endpoint requires role {named} and no API keys are configured; configure one"
            )
        if not api_key:
            raise HTTPException(
                401, f"missing {API_KEY_HEADER} header", headers={"WWW-Authenticate": API_KEY_HEADER}
            )
        held = keys.roles_of(api_key)
        if held is None:
            raise HTTPException(401, "unknown API key", headers={"WWW-Authenticate": API_KEY_HEADER})
        if not held & wanted:
            raise HTTPException(403, f"this API key has none of the roles {named}")

    return guard
