"""Kafka Connect's REST API: register a connector idempotently and wait until it and its tasks
run. The same calls work against the local worker and a Connect cluster."""

from __future__ import annotations

import time
from typing import Any

import httpx

from lakehouse_core.errors import LakehouseError


class ConnectError(LakehouseError):
    """Kafka Connect refused a request or a connector failed; the message says why."""


class ConnectClient:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def plugins(self) -> list[str]:
        return [p["class"] for p in self._request("GET", "/connector-plugins")]

    def put_connector(self, name: str, config: dict[str, str], *, timeout: float = 60.0) -> None:
        """Create the connector, or update its configuration when it exists (PUT is idempotent).
        A worker still joining its group answers 409; that is retried for ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._request("PUT", f"/connectors/{name}/config", json={**config, "name": name})
                return
            except ConnectError as exc:
                if "409" not in str(exc)[:40] or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def delete_connector(self, name: str) -> None:
        self._request("DELETE", f"/connectors/{name}", missing_ok=True)

    def status(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._request("GET", f"/connectors/{name}/status")
        return answer

    def await_running(self, name: str, *, timeout: float = 60.0) -> dict[str, Any]:
        """Wait until the connector and every task run; a failed one raises with its trace."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                last = self.status(name)
            except ConnectError:
                time.sleep(0.5)
                continue
            states = [last["connector"], *last.get("tasks", [])]
            failed = [s for s in states if s.get("state") == "FAILED"]
            if failed:
                raise ConnectError(f"connector {name} failed: {failed[0].get('trace', '')[:2000]}")
            if last.get("tasks") and all(s.get("state") == "RUNNING" for s in states):
                return last
            time.sleep(0.5)
        raise ConnectError(f"connector {name} did not run within {timeout:.0f}s: {last}")

    def _request(self, method: str, path: str, *, json: Any = None, missing_ok: bool = False) -> Any:
        try:
            response = httpx.request(method, f"{self.url}{path}", json=json, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise ConnectError(f"Kafka Connect at {self.url} did not answer {method} {path}: {exc}") from exc
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ConnectError(
                f"Kafka Connect answered {response.status_code} to {method} {path}: {response.text[:2000]}"
            )
        return response.json() if response.content else None
