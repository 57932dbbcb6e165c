"""A connector for paginated REST APIs (payments, support tickets, a CRM), configured as data.

An :class:`HttpApiSource` says where the records are (base URL, path, the field holding a
page's records), how the API pages (``page``: a page number; ``cursor``: an opaque cursor from
the previous page), which query parameters it takes, and which fields of a record are its id and
its update time. :class:`HttpApiClient` reads every page updated since a given time:

- 429 is retried after the server's ``Retry-After`` (seconds or an HTTP date, capped by
  ``retry.max_retry_after_seconds``), 5xx, 408 and connection failures after an exponential
  backoff with full jitter; attempts per request are bounded, and each retry is logged and
  counted in :class:`FetchStats`;
- any other 4xx raises :class:`SourceRefusedError` at once, naming the URL, the status and the
  start of the body: the request is wrong (a bad token, a bad parameter) and repeating it cannot
  help;
- a credential comes from the environment variable named by ``auth.env``, never from a file.

Landing the records in bronze is :mod:`lakehouse_core.sources.landing`.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from lakehouse_core.errors import ConfigError, DataError, LakehouseError

log = logging.getLogger(__name__)

#: How much of a refused response's body an error message quotes.
BODY_EXCERPT_CHARS = 500


class SourceError(LakehouseError):
    """An API source could not be read; ``url`` is the request, ``status`` the last HTTP status
    (``None`` after a connection failure)."""

    def __init__(self, message: str, *, url: str, status: int | None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class SourceRefusedError(SourceError, DataError):
    """The API answered a 4xx other than 408 and 429: the request itself is wrong."""


class SourceUnavailableError(SourceError):
    """The API kept failing (5xx, 408, 429, connection errors) for every allowed attempt."""


class SourceResponseError(SourceError):
    """A successful answer that is not a page: not JSON, or without its list of records."""


class Pagination(StrEnum):
    PAGE = "page"
    """``page_param`` counts pages from ``first_page``; the first empty page ends the run (not a
    short one: an API may cap the page size below ``page_size``)."""
    CURSOR = "cursor"
    """Each page names the next one in ``next_cursor_field``; no cursor ends the run."""


class ApiAuth(BaseModel):
    """A header carrying a credential read from the environment: ``<header>: <prefix><value>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str = Field(description="The environment variable holding the credential.")
    header: str = "Authorization"
    prefix: str = "Bearer "


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=6, ge=1, description="Attempts per request, the first included.")
    backoff_seconds: float = Field(default=0.5, ge=0, description="The first retry waits up to this long.")
    max_backoff_seconds: float = Field(default=30.0, ge=0)
    max_retry_after_seconds: float = Field(
        default=120.0, ge=0, description="A longer Retry-After is waited only this long."
    )


class HttpApiSource(BaseModel):
    """One REST collection of records and how to read it incrementally."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="Names the bronze rows and the state.")
    base_url: str
    path: str
    pagination: Pagination
    records_field: str = Field(default="data", description="Dotted path to a page's list of records.")
    page_size: int = Field(default=100, ge=1)
    page_size_param: str = "limit"
    page_param: str = "page"
    first_page: int = 1
    cursor_param: str = "cursor"
    next_cursor_field: str = Field(default="next_cursor", description="Dotted path to the next cursor.")
    updated_since_param: str = "updated_since"
    updated_since_format: Literal["iso8601", "epoch_seconds"] = "iso8601"
    params: dict[str, str] = Field(default_factory=dict, description="Query parameters sent on every page.")
    record_id_field: str = Field(default="id", description="Dotted path to a record's id.")
    updated_at_field: str = Field(
        default="updated_at",
        description="Dotted path to a record's update time: ISO 8601 with an offset, or epoch seconds.",
    )
    subject_field: str | None = Field(
        default=None, description="Dotted path to the user id of the person a record is about."
    )
    lookback_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Each run asks for records updated since the high-water mark minus this much, "
        "for APIs whose update times can arrive late.",
    )
    auth: ApiAuth | None = None
    timeout_seconds: float = Field(default=30.0, gt=0)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/{self.path.lstrip('/')}"


def field_value(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` of a JSON object; ``None`` where any step is missing."""
    value: Any = record
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header as seconds to wait (delta-seconds or an HTTP date); ``None`` when
    absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(tz=UTC))).total_seconds())


def backoff_seconds(attempt: int, policy: RetryPolicy, *, draw: Callable[[], float] = random.random) -> float:
    """The wait before retry number ``attempt`` (1 for the first): full jitter, i.e. uniform in
    ``[0, min(max_backoff, backoff * 2**(attempt-1))]``, so clients that failed together do not
    retry together."""
    ceiling = min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** (attempt - 1))
    return float(draw() * ceiling)


@dataclass
class FetchStats:
    """What reading a source took: requests sent and retries by cause (``"429"``, ``"503"``,
    ``"ConnectError"``...)."""

    requests: int = 0
    pages: int = 0
    retries: Counter[str] = field(default_factory=Counter)

    @property
    def retried(self) -> int:
        return sum(self.retries.values())


@dataclass(frozen=True)
class Page:
    url: str
    """The request as sent, query string included."""
    records: list[Any]


def _since(value: datetime, style: Literal["iso8601", "epoch_seconds"]) -> str:
    if style == "epoch_seconds":
        return str(int(value.timestamp()))
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class HttpApiClient:
    """Reads an :class:`HttpApiSource` page by page; one keep-alive connection pool per client."""

    def __init__(
        self,
        source: HttpApiSource,
        *,
        environ: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.source = source
        self.stats = FetchStats()
        self._sleep = sleep
        self._draw = draw
        headers = {"Accept": "application/json"}
        if source.auth is not None:
            env = os.environ if environ is None else environ
            credential = env.get(source.auth.env, "")
            if not credential:
                raise ConfigError(
                    f"source {source.name}: {source.auth.env} is not set; the API credential "
                    "comes from the environment only"
                )
            headers[source.auth.header] = f"{source.auth.prefix}{credential}"
        self._http = httpx.Client(headers=headers, timeout=source.timeout_seconds)

    def __enter__(self) -> HttpApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def pages(self, *, updated_since: datetime | None) -> Iterator[Page]:
        """Every page of records updated since ``updated_since`` (all records when ``None``)."""
        source = self.source
        params: dict[str, str] = {**source.params, source.page_size_param: str(source.page_size)}
        if updated_since is not None:
            params[source.updated_since_param] = _since(updated_since, source.updated_since_format)
        if source.pagination is Pagination.PAGE:
            number, previous = source.first_page, None
            while True:
                page = self._page({**params, source.page_param: str(number)})
                if not page.records:
                    return
                if page.records == previous:
                    raise self._repeated(page, source.page_param)
                yield page
                previous, number = page.records, number + 1
        cursor: str | None = None
        while True:
            page_params = params if cursor is None else {**params, source.cursor_param: cursor}
            page, body = self._page_and_body(page_params)
            yield page
            following = field_value(body, source.next_cursor_field) if isinstance(body, Mapping) else None
            if following in (None, "") or not page.records:
                return
            if str(following) == cursor:
                raise self._repeated(page, source.cursor_param)
            cursor = str(following)

    def _repeated(self, page: Page, param: str) -> SourceResponseError:
        return SourceResponseError(
            f"source {self.source.name}: {page.url} answered the page before it again; "
            f"does the API take the parameter {param!r}?",
            url=page.url,
            status=200,
        )

    def _page(self, params: Mapping[str, str]) -> Page:
        return self._page_and_body(params)[0]

    def _page_and_body(self, params: Mapping[str, str]) -> tuple[Page, Any]:
        url, body = self.get_json(params)
        records = field_value(body, self.source.records_field) if isinstance(body, Mapping) else None
        if not isinstance(records, list):
            raise SourceResponseError(
                f"source {self.source.name}: {url} answered without a list at "
                f"{self.source.records_field!r}: {str(body)[:BODY_EXCERPT_CHARS]}",
                url=url,
                status=200,
            )
        self.stats.pages += 1
        return Page(url, records), body

    def get_json(self, params: Mapping[str, str]) -> tuple[str, Any]:
        """GET the source's URL with ``params``, retrying what may pass; returns the URL as sent
        and the decoded JSON body."""
        policy = self.source.retry
        url = self.source.url
        for attempt in range(1, policy.max_attempts + 1):
            self.stats.requests += 1
            status: int | None = None
            wait: float | None = None
            try:
                response = self._http.get(self.source.url, params=dict(params))
            except httpx.TransportError as error:
                cause, problem = type(error).__name__, f"{type(error).__name__}: {error}"
                url = str(httpx.URL(self.source.url, params=dict(params)))
            else:
                url, status = str(response.url), response.status_code
                if response.is_success:
                    return url, _json(response, source=self.source.name)
                problem = f"HTTP {status}: {response.text.strip()[:BODY_EXCERPT_CHARS]}"
                if status < 500 and status not in (408, 429):
                    raise SourceRefusedError(
                        f"source {self.source.name}: {url} refused the request: {problem}",
                        url=url,
                        status=status,
                    )
                cause = str(status)
                if status == 429:
                    after = retry_after_seconds(response.headers.get("Retry-After"))
                    wait = None if after is None else min(after, policy.max_retry_after_seconds)
            if attempt == policy.max_attempts:
                raise SourceUnavailableError(
                    f"source {self.source.name}: {url} failed {policy.max_attempts} attempts; "
                    f"last: {problem}",
                    url=url,
                    status=status,
                )
            if wait is None:
                wait = backoff_seconds(attempt, policy, draw=self._draw)
            self.stats.retries[cause] += 1
            log.warning(
                "source request failed, retrying",
                extra={
                    "source": self.source.name,
                    "url": url,
                    "cause": cause,
                    "attempt": attempt,
                    "wait": wait,
                },
            )
            self._sleep(wait)
        raise AssertionError("unreachable")


def _json(response: httpx.Response, *, source: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise SourceResponseError(
            f"source {source}: {response.url} answered {response.status_code} with a body that is "
            f"not JSON: {response.text[:BODY_EXCERPT_CHARS]!r}",
            url=str(response.url),
            status=response.status_code,
        ) from exc
