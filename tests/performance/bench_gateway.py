"""Gateway: what ``lakehouse gateway`` adds to a request, against calling the product's API alone.

web-user-analytics' API runs alone (``web-user-analytics api``) and mounted in the gateway
(``lakehouse gateway``), each in its own process pinned to the same core, over the same lake
(page_stats and daily_traffic written with delta-rs, no Spark). The same requests go to both,
p50/p99 at concurrency 1 and 8, for a repeated query (answered from the per-version cache:
the gateway's share of the time is largest) and for distinct date ranges (each reads Delta).
Through the gateway, with a key holding ``user_reader`` (no column mask) and with an
``analyst`` key (the JSON answer is parsed and written again without pseudonymous ids).

Usage: ``python tests/performance/bench_gateway.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
from bench_serving import concurrent_latencies
from deltalake import write_deltalake
from harness import (
    ALL_CORES,
    PRODUCTS,
    latency_summary,
    measured,
    ready_process,
    service_process,
    work_dir,
    write_result,
)

from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_core.serving.contracts import arrow_schema
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.tables import Layer
from lakehouse_platform.catalog import load_catalog
from lakehouse_platform.gateway.config import load_gateway_config
from lakehouse_platform.gateway.keys import KeyStore, Quota
from lakehouse_testing.plugin import free_port

PRODUCT = "web-user-analytics"
FIRST_DAY = date(2026, 3, 2)
DAYS = 30
PAGES = 200
REQUESTS = 400
CONCURRENCY = (1, 8)
SERVICE_CORES, CLIENT_CORES = {1 % (os.cpu_count() or 1)}, {0}
TOP_PAGES = "/v1/pages/top?start={start}&end={end}&limit=20"


def write_lake(lake_root: str) -> int:
    """page_stats and daily_traffic for ``DAYS`` days, the product's other served tables empty
    (its ``/ready`` opens them all); returns the rows written."""
    catalog = load_catalog(lake_root=lake_root)
    days = [FIRST_DAY + timedelta(days=d) for d in range(DAYS)]
    rows = {
        "page_stats": [
            {
                "date": day,
                "page_path": f"/page/{p}",
                "views": 10 + p,
                "unique_visitors": 5 + p,
                "entrances": 3,
                "exits": 2,
                "avg_time_on_page_seconds": 12.5,
            }
            for day in days
            for p in range(PAGES)
        ],
        "daily_traffic": [
            {
                "date": day,
                "device_type": device,
                "country": country,
                "visitors": 100,
                "sessions": 120,
                "page_views": 400,
                "bounce_rate": 0.4,
                "avg_session_duration_seconds": 80.0,
            }
            for day in days
            for device in ("desktop", "mobile")
            for country in ("DE", "FR", "US")
        ],
    }
    for entry in catalog.select(product=PRODUCT):
        if entry.spec.contract is None or entry.layer not in (Layer.SILVER, Layer.GOLD):
            continue
        schema = arrow_schema(entry.spec.contract)
        write_deltalake(
            entry.location,
            pa.Table.from_pylist(rows.get(entry.spec.name, []), schema=schema),
            partition_by=list(entry.spec.partition_by) or None,
        )
    return sum(len(r) for r in rows.values())


@contextmanager
def gateway_process(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = free_port()
    with ready_process(
        [str(Path(sys.executable).with_name("lakehouse")), "gateway", "--port", str(port)],
        env,
        port=port,
        cores=SERVICE_CORES,
        what="the gateway",
        timeout=120,
    ) as service:
        yield service


def run(
    url: str, pid: int, paths: Sequence[str], concurrency: int, headers: dict[str, str]
) -> dict[str, Any]:
    with httpx.Client(
        base_url=url, timeout=60, headers=headers, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        def get(path: str) -> None:
            client.get(path).raise_for_status()

        with measured({"service": pid, "load_client": os.getpid()}) as done:
            latencies = concurrent_latencies(get, paths, concurrency)
    return {
        **latency_summary(latencies),
        "requests_per_second": len(paths) / done.seconds,
        "cpu_share": done.cpu_share,
    }


def distinct(first: int) -> list[str]:
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    return [
        TOP_PAGES.format(start=FIRST_DAY - timedelta(days=i // 100), end=last + timedelta(days=i % 100))
        for i in range(first, first + REQUESTS)
    ]


def series(url: str, pid: int, prefix: str, headers: dict[str, str], *, first: int) -> dict[str, Any]:
    """The runs of one path; its uncached requests are the date ranges numbered from ``first``,
    so a series never finds the ranges of another in the gateway's cache."""
    repeated = [TOP_PAGES.format(start=FIRST_DAY, end=FIRST_DAY + timedelta(days=6))] * REQUESTS
    run(url, pid, [prefix + p for p in distinct(10_000)[:40]], 4, headers)
    figures: dict[str, Any] = {}
    for concurrency in CONCURRENCY:
        figures[f"cached_concurrency_{concurrency}"] = run(
            url, pid, [prefix + p for p in repeated], concurrency, headers
        )
    for index, concurrency in enumerate(CONCURRENCY):
        figures[f"uncached_concurrency_{concurrency}"] = run(
            url, pid, [prefix + p for p in distinct(first + index * REQUESTS)], concurrency, headers
        )
    return figures


def overhead(direct: dict[str, Any], through: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {
            "p50_ms_added": through[name]["p50_ms"] - figures["p50_ms"],
            "p99_ms_added": through[name]["p99_ms"] - figures["p99_ms"],
            "p50_ratio": through[name]["p50_ms"] / figures["p50_ms"],
        }
        for name, figures in direct.items()
    }


def main() -> None:
    work = work_dir("gateway")
    env = {"LAKEHOUSE_LAKE_ROOT": str(work / "lake"), "LAKEHOUSE_STATE_DIR": str(work / "state")}
    os.environ.update(env)
    settings = LakehouseSettings()
    rows = write_lake(settings.lake_root)
    store = KeyStore(load_gateway_config().store_path(settings))
    unlimited = Quota(per_minute=10**9, per_day=10**9)
    reader = store.create(
        owner="bench", roles=["analyst", "user_reader"], valid_for=timedelta(days=1), quota=unlimited
    )
    analyst = store.create(owner="bench", roles=["analyst"], valid_for=timedelta(days=1), quota=unlimited)

    os.sched_setaffinity(0, CLIENT_CORES)
    with service_process(PRODUCTS[PRODUCT], "api", env, cores=SERVICE_CORES) as (url, pid):
        direct = series(url, pid, "", {}, first=0)
    with gateway_process(env) as (url, pid):
        gateway_reader = series(url, pid, f"/{PRODUCT}", {API_KEY_HEADER: reader.secret}, first=0)
        gateway_analyst = series(
            url, pid, f"/{PRODUCT}", {API_KEY_HEADER: analyst.secret}, first=len(CONCURRENCY) * REQUESTS
        )
    os.sched_setaffinity(0, ALL_CORES)

    write_result(
        "gateway",
        {
            "direct": direct,
            "gateway_user_reader_key": gateway_reader,
            "gateway_analyst_key_masked": gateway_analyst,
            "overhead_user_reader_key": overhead(direct, gateway_reader),
            "overhead_analyst_key_masked": overhead(direct, gateway_analyst),
        },
        data={
            "product": PRODUCT,
            "route": TOP_PAGES,
            "days": DAYS,
            "pages_per_day": PAGES,
            "rows": rows,
            "requests_per_run": REQUESTS,
            "products_mounted": "every installed product",
        },
    )


if __name__ == "__main__":
    main()
