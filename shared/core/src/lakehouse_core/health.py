"""Liveness and readiness: a readiness report is the result of probing each dependency.

A probe is a plain callable that returns (optionally a detail string) when the dependency
answers and raises when it does not; :func:`run_checks` turns that into a report a service
returns from ``/ready`` (HTTP 200 when every check passes, 503 otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

Status = Literal["ok", "failing"]


class CheckResult(BaseModel):
    name: str
    status: Status
    detail: str = ""
    duration_ms: float


class ReadinessReport(BaseModel):
    status: Status
    checks: list[CheckResult]


class LivenessReport(BaseModel):
    status: Status
    service: str
    version: str


@dataclass(frozen=True)
class HealthCheck:
    name: str
    probe: Callable[[], str | None]


def run_checks(checks: Sequence[HealthCheck]) -> ReadinessReport:
    results = []
    for check in checks:
        started = time.perf_counter()
        status: Status
        try:
            detail, status = check.probe() or "", "ok"
        except Exception as exc:  # a failing dependency is a result, not a crash
            detail, status = f"{type(exc).__name__}: {exc}", "failing"
        elapsed = (time.perf_counter() - started) * 1000
        results.append(CheckResult(name=check.name, status=status, detail=detail, duration_ms=elapsed))
    overall: Status = "ok" if all(r.status == "ok" for r in results) else "failing"
    return ReadinessReport(status=overall, checks=results)


def kafka_check(bootstrap_servers: str, *, timeout: float = 2.0) -> HealthCheck:
    from lakehouse_core.kafka.admin import broker_answers

    def probe() -> str:
        if not broker_answers(bootstrap_servers, timeout=timeout):
            raise ConnectionError(f"no Kafka broker answers at {bootstrap_servers}")
        return bootstrap_servers

    return HealthCheck("kafka", probe)


def delta_table_check(name: str, location: str) -> HealthCheck:
    from lakehouse_core.delta_reader import open_table

    def probe() -> str:
        return f"version {open_table(location).version()}"

    return HealthCheck(f"table:{name}", probe)
