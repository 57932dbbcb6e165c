"""The error answers of the serving APIs, described once for every route's OpenAPI ``responses``.

Every error a serving route gives is FastAPI's ``HTTPException`` body, ``{"detail": "..."}``
(422, FastAPI's own validation error, is documented by FastAPI itself). Routes declare the
statuses they can give with :func:`error_responses`, so generated clients know each one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from lakehouse_core.serving.auth import API_KEY_HEADER


class ErrorResponse(BaseModel):
    """An error: ``detail`` says what was wrong and how to fix it."""

    detail: str = Field(description="What was wrong with the request, and what to do about it.")


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "A parameter's value is well-formed but not acceptable (e.g. end before start, a range "
    "too long, a week that is not a Monday).",
    401: f"The {API_KEY_HEADER} header is missing or the key is unknown.",
    403: "The API key lacks the role this route needs, or no API keys are configured and the "
    "route serves per-person data.",
    404: "The named resource (a funnel, a device) does not exist.",
    503: "A table the route reads has not been produced by the pipeline yet; retry after "
    "Retry-After seconds.",
}

_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": f"Names the header to send: {API_KEY_HEADER}.",
            "schema": {"type": "string"},
        }
    },
    503: {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route or router that can answer each of ``statuses`` with an
    :class:`ErrorResponse`."""
    unknown = sorted(set(statuses) - set(ERROR_DESCRIPTIONS))
    if unknown:
        raise ValueError(f"no error description for status {unknown}; known: {sorted(ERROR_DESCRIPTIONS)}")
    return {
        status: {
            "model": ErrorResponse,
            "description": ERROR_DESCRIPTIONS[status],
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }
