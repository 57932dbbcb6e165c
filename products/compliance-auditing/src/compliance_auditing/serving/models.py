"""Request and response bodies of the erasure API (the tables' rows derive from
:mod:`compliance_auditing.contracts`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from compliance_auditing.contracts import ErasureState

Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]


class ErasureRequestCreate(BaseModel):
    """Erase a person: their user id, and any anonymous or device ids known to be theirs."""

    model_config = ConfigDict(extra="forbid")

    user_id: Identifier = Field(description="The user id as the products receive it (userId).")
    anonymous_ids: list[Identifier] = Field(default_factory=list, max_length=100)
    device_ids: list[Identifier] = Field(default_factory=list, max_length=100)


class ErasureRequestStatus(BaseModel):
    request_id: str
    subject_key: str = Field(
        description="The person, as the lake knows them; the user id itself is not kept."
    )
    state: ErasureState
    requested_at: datetime
    updated_at: datetime = Field(description="When the request entered its state.")
    deadline: datetime = Field(description="requested_at + the configured deadline (default 72 h).")
    late: bool = Field(description="Not completed and past the deadline (or completed after it).")
    detail: str | None = None


class CertificateResponse(BaseModel):
    request_id: str
    issued_at: datetime
    found: int = Field(description="Occurrences found after erasure; 0 when proven.")
    certificate: dict[str, Any] = Field(
        description="The certificate (tables, locations, how each was searched)."
    )
    signed_text: str = Field(description="The exact signed bytes (UTF-8): the certificate as canonical JSON.")
    signature: str = Field(description="HMAC-SHA256 (hex) of signed_text under the signing key.")
    algorithm: str = "HMAC-SHA256"
