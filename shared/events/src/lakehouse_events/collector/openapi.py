"""The collector's OpenAPI description: the Segment payloads it takes, its answers and its auth.

The routes read the raw body themselves (size limit while reading, gzip), so FastAPI must not
parse it: the request bodies are described with ``openapi_extra`` and their schemas, derived
from :class:`~lakehouse_events.segment.SegmentMessage` (the contract the collector validates
with), are added to the document's components once; each single-call route inlines that
schema with its own type.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from lakehouse_events.segment import Context, MessageType, SegmentMessage

#: The name of the write-key security scheme in the document.
WRITE_KEY_SCHEME = "writeKey"

_REF = "#/components/schemas/{model}"


class SegmentBatch(BaseModel):
    """A ``/v1/batch`` body. Its ``context`` and ``sentAt`` apply to every message that has none."""

    model_config = ConfigDict(extra="allow")

    batch: list[SegmentMessage] = Field(min_length=1, description="The calls, each validated on its own.")
    context: Context | None = None
    sent_at: datetime | None = Field(default=None, alias="sentAt")
    write_key: str | None = Field(
        default=None, alias="writeKey", description="The write key, for callers that cannot send HTTP Basic."
    )


class RejectedMessage(BaseModel):
    index: int = Field(description="Position of the message in the batch (0 for a single call).")
    reason: str = Field(description="Why it was refused; the message went to the dead-letter topic.")


class CollectorAccepted(BaseModel):
    """Kafka acknowledged every accepted message; the rejected ones are on the dead-letter topic."""

    success: Literal[True]
    accepted: int = Field(ge=0, description="Messages stored on the events topic.")
    rejected: list[RejectedMessage]


class CollectorError(BaseModel):
    """The whole request was refused. Segment's and RudderStack's SDKs read ``code`` and
    ``message``; ``error`` repeats ``message`` for earlier callers."""

    success: Literal[False]
    code: str = Field(
        description="invalid_request, unauthorized, payload_too_large, unsupported_media_type, unavailable."
    )
    message: str
    error: str


_ERRORS: dict[int, str] = {
    400: "The body is not JSON, not valid gzip/deflate, or not a Segment call (a single call that is "
    "invalid); the raw body went to the dead-letter topic.",
    401: "The write key is missing or unknown: send it as the HTTP Basic user name.",
    413: "The body (or, compressed, what it expands to) is larger than the route's limit.",
    415: "The Content-Encoding is neither gzip, deflate nor identity.",
    503: "Kafka did not acknowledge the events in time; retry after Retry-After seconds (the SDKs "
    "do, and the repeated messageId is deduplicated downstream).",
}


def collector_responses() -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of every tracking route."""
    errors: dict[int | str, dict[str, Any]] = {
        status: {"model": CollectorError, "description": description}
        for status, description in _ERRORS.items()
    }
    errors[503]["headers"] = {
        "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
    }
    return {200: {"model": CollectorAccepted, "description": "Stored (see accepted and rejected)."}, **errors}


def single_call_schema(message_type: MessageType) -> dict[str, Any]:
    """The body of ``/v1/<message_type>``: a :class:`SegmentMessage` whose ``type`` may be left
    out (the route fills it in) and, when sent, is the route's own."""
    message = copy.deepcopy(payload_schemas()[SegmentMessage.__name__])
    message["required"] = [name for name in message.get("required", []) if name != "type"]
    message["properties"]["type"] = {"const": message_type, "description": "Optional: the route's type."}
    # The route's type is implied, so the rule for it applies whether ``type`` is sent or not.
    own_rules = [
        rule["then"]
        for rule in message.pop("allOf")
        if rule["if"]["properties"]["type"]["const"] == message_type
    ]
    if own_rules:
        message["allOf"] = own_rules
    message["title"] = f"{message_type.capitalize()}Call"
    schema: dict[str, Any] = message
    return schema


def tracking_operation(body: dict[str, Any], *, limit_bytes: int) -> dict[str, Any]:
    """The ``openapi_extra`` of a tracking route whose body has the JSON schema ``body``, at most
    ``limit_bytes``."""
    return {
        "requestBody": {
            "required": True,
            "description": f"At most {limit_bytes} bytes, after decompression.",
            "content": {"application/json": {"schema": body}},
        },
        "parameters": [
            {
                "name": "Content-Encoding",
                "in": "header",
                "required": False,
                "description": "Compression of the body; none by default.",
                "schema": {"type": "string", "enum": ["gzip", "deflate", "identity"]},
            }
        ],
        "security": [{WRITE_KEY_SCHEME: []}],
    }


def payload_schemas() -> dict[str, Any]:
    """JSON schemas of the request bodies and everything they refer to, by component name."""
    _, top = models_json_schema(
        [(SegmentBatch, "validation"), (SegmentMessage, "validation")], ref_template=_REF, by_alias=True
    )
    schemas: dict[str, Any] = top["$defs"]
    schemas[SegmentMessage.__name__].update(_REQUIRED_FIELDS)
    return schemas


def _non_empty(field: str) -> dict[str, Any]:
    return {"required": [field], "properties": {field: {"type": "string", "minLength": 1}}}


#: The rules of ``SegmentMessage._required_fields`` (a model validator, so absent from the schema
#: pydantic derives), in JSON Schema: a non-empty ``userId`` or ``anonymousId``; ``event`` on a
#: track call, ``previousId`` on an alias, ``groupId`` on a group.
_REQUIRED_FIELDS: dict[str, Any] = {
    "anyOf": [_non_empty("userId"), _non_empty("anonymousId")],
    "allOf": [
        {"if": {"required": ["type"], "properties": {"type": {"const": kind}}}, "then": _non_empty(field)}
        for kind, field in (("track", "event"), ("alias", "previousId"), ("group", "groupId"))
    ],
}


def batch_schema() -> dict[str, Any]:
    return {"$ref": _REF.format(model=SegmentBatch.__name__)}


def describe_payloads(app: FastAPI) -> None:
    """Adds the Segment payload schemas and the HTTP Basic write-key scheme to ``app``'s document."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(payload_schemas())
            components.setdefault("securitySchemes", {})[WRITE_KEY_SCHEME] = {
                "type": "http",
                "scheme": "basic",
                "description": "The write key as the user name, the password empty (what the Segment "
                "and RudderStack SDKs send). A writeKey field in the body is accepted instead.",
            }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
