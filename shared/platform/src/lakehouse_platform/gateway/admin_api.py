"""``/admin``: the keys and roles, for keys with the role ``admin``; each change audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field

from lakehouse_core.platform_topics import api_key_id
from lakehouse_core.serving.auth import API_KEY_HEADER, require_role
from lakehouse_platform.gateway.admin import KeyAdmin
from lakehouse_platform.gateway.config import ADMIN
from lakehouse_platform.gateway.keys import IssuedKey, KeyStoreError, UnknownKeyError

KeyId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$", description="The key's id.")]


class KeyRequest(BaseModel):
    owner: str = Field(min_length=1, max_length=200, description="Who the key is for.")
    roles: list[str] = Field(min_length=1, max_length=20)
    valid_days: int | None = Field(default=None, ge=1, le=3650, description="Default: the gateway's.")
    requests_per_minute: int | None = Field(default=None, ge=1)
    requests_per_day: int | None = Field(default=None, ge=1)


class KeyPublic(BaseModel):
    key_id: str
    owner: str
    roles: list[str]
    created_at: str
    expires_at: str
    revoked: bool
    state: str
    requests_per_minute: int | None
    requests_per_day: int | None


class IssuedKeyPublic(BaseModel):
    key: str = Field(description="The new key: shown this once, stored only as its SHA-256 digest.")
    record: KeyPublic


def admin_router(admin: KeyAdmin, *, fingerprint_secret: bytes, clock: Any) -> APIRouter:
    router = APIRouter(
        prefix="/admin",
        tags=["admin"],
        dependencies=[Depends(require_role(ADMIN))],
        responses={
            401: {"description": "No API key, or one not in force."},
            403: {"description": "Not admin."},
        },
    )

    def actor(request: Request) -> str | None:
        presented = request.headers.get(API_KEY_HEADER)
        return api_key_id(presented, secret=fingerprint_secret) if presented else None

    def issued(key: IssuedKey) -> IssuedKeyPublic:
        return IssuedKeyPublic(key=key.secret, record=KeyPublic(**key.record.public(clock())))

    def changing(error: KeyStoreError) -> HTTPException:
        return HTTPException(404 if isinstance(error, UnknownKeyError) else 400, str(error))

    @router.get("/keys")
    def list_keys() -> list[KeyPublic]:
        """Every key (never its secret) with its state: active, expired or revoked."""
        return [KeyPublic(**r.public(clock())) for r in admin.store.records()]

    @router.post("/keys", status_code=201, responses={400: {"description": "Unknown roles."}})
    def create_key(body: KeyRequest, request: Request) -> IssuedKeyPublic:
        """Make a key; its secret is in this answer only."""
        try:
            return issued(
                admin.create(
                    owner=body.owner,
                    roles=body.roles,
                    valid_days=body.valid_days,
                    per_minute=body.requests_per_minute,
                    per_day=body.requests_per_day,
                    actor=actor(request),
                )
            )
        except KeyStoreError as exc:
            raise changing(exc) from exc

    @router.post("/keys/{key_id}/revoke", responses={404: {"description": "No such key."}})
    def revoke_key(key_id: KeyId, request: Request) -> KeyPublic:
        """Refuse the key from now on."""
        try:
            return KeyPublic(**admin.revoke(key_id, actor=actor(request)).public(clock()))
        except KeyStoreError as exc:
            raise changing(exc) from exc

    @router.post(
        "/keys/{key_id}/rotate",
        responses={400: {"description": "Revoked."}, 404: {"description": "No such key."}},
    )
    def rotate_key(key_id: KeyId, request: Request) -> IssuedKeyPublic:
        """Revoke the key and make one with the same owner, roles and quota."""
        try:
            return issued(admin.rotate(key_id, actor=actor(request)))
        except KeyStoreError as exc:
            raise changing(exc) from exc

    @router.get("/roles")
    def roles() -> dict[str, str]:
        """Every role a key may hold, with what it reads."""
        return dict(admin.roles)

    return router
