"""A payments API for the tests of HTTP API sources, served for real on a local port.

``/v1/payments`` pages by cursor (keyset on update time and id, as Stripe's
``starting_after``), ``/v2/payments`` by page number. Both serve the records of ``extra`` first,
then the payments updated since ``updated_since`` (inclusive) by update time and id. It rate-limits
(429 with a ``Retry-After`` of a tenth of a second every ``rate_limit_every`` requests), fails
with a 5xx on a seeded share of requests, wants a bearer token, and can refuse a chosen request
with a 422.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

TOKEN = "test-token"
START = datetime(2026, 3, 1, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass
class PaymentsState:
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: list[Any] = field(default_factory=list)
    """Records served as they are (invalid ones), after the payments, on every run."""
    clock: datetime = START
    rate_limit_every: int = 0
    failure_rate: float = 0.0
    refuse_request: int | None = None
    """The number of the data request (1 for the first) answered with a 422."""
    retry_after: str = "0.1"
    max_limit: int = 100
    """Pages hold at most this many records, whatever the client asks for."""
    seed: int = 7
    requests: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, count: int) -> list[str]:
        ids = []
        for _ in range(count):
            payment_id = f"pay_{len(self.payments) + 1:05d}"
            self.clock += timedelta(seconds=1)
            self.payments[payment_id] = {
                "id": payment_id,
                "customer": {"id": f"user-{len(self.payments) % 17}"},
                "amount": 100 + len(self.payments),
                "currency": "EUR",
                "status": "succeeded",
                "updated_at": stamp(self.clock),
            }
            ids.append(payment_id)
        return ids

    def update(self, payment_id: str, **changes: Any) -> None:
        self.clock += timedelta(seconds=1)
        self.payments[payment_id] = {**self.payments[payment_id], **changes, "updated_at": stamp(self.clock)}

    def versions(self) -> set[tuple[str, str]]:
        return {(p["id"], p["updated_at"]) for p in self.payments.values()}

    def selected(self, since: str | None) -> list[dict[str, Any]]:
        rows = sorted(self.payments.values(), key=lambda p: (p["updated_at"], p["id"]))
        if since is not None:
            rows = [p for p in rows if p["updated_at"] >= since]
        return rows


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *_: Any) -> None:
        pass

    def do_GET(self) -> None:
        state = self.server.state
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with state.lock:
            state.requests.append(self.path)
            number = len(state.requests)
            status, body, headers = self._answer(state, parts.path, query, number)
            state.statuses.append(status)
        payload = orjson.dumps(body)
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _answer(  # noqa: PLR0911
        self, state: PaymentsState, path: str, query: dict[str, str], number: int
    ) -> tuple[int, Any, dict[str, str]]:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"error": "missing or wrong bearer token"}, {}
        if state.rate_limit_every and number % state.rate_limit_every == 0:
            return 429, {"error": "slow down"}, {"Retry-After": state.retry_after}
        if state.failure_rate and self.server.random.random() < state.failure_rate:
            return self.server.random.choice([500, 502, 503]), {"error": "upstream hiccup"}, {}
        data_requests = sum(1 for s in state.statuses if s == 200) + 1
        if state.refuse_request == data_requests:
            return 422, {"error": f"invalid parameter in {path}?{query}"}, {}
        limit = min(int(query.get("limit", "10")), state.max_limit)
        rows = state.selected(query.get("updated_since"))
        if path == "/v1/payments":
            cursor = query.get("cursor")
            if cursor is None:
                rows = [*state.extra, *rows]
            else:
                after = tuple(cursor.split("|", 1))
                rows = [p for p in rows if (p["updated_at"], p["id"]) > after]
            page = rows[:limit]
            last = page[-1] if page and isinstance(page[-1], dict) else None
            following = f"{last['updated_at']}|{last['id']}" if len(rows) > limit and last else None
            return 200, {"data": page, "next_cursor": following}, {}
        if path == "/v2/payments":
            rows = [*state.extra, *rows]
            number = int(query.get("page", "1"))
            return 200, {"data": rows[(number - 1) * limit : number * limit]}, {}
        return 404, {"error": f"no route {path}"}, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: PaymentsState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.random = random.Random(state.seed)


@contextmanager
def payments_api(state: PaymentsState) -> Iterator[str]:
    """Serve ``state`` until the block ends; yields the base URL."""
    server = _Server(state)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="payments-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
