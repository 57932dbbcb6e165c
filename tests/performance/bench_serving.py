"""Serving: the product API over real HTTP against the same query through Spark SQL.

A lake is built first (generated days through Kafka, bronze, silver, gold). Then:

- API latency p50/p99 at concurrency 1, 8 and 32 (uvicorn, delta-rs reader), for repeated
  queries (answered from the per-table-version cache) and for distinct date ranges (every
  request misses the cache and reads Delta), with one worker process (pinned to core 1, the
  load client on core 0) and with two (``<PREFIX>SERVING__WORKERS=2``, on both cores, which
  the load client shares). The load client is an asyncio HTTP/1.1 client on keep-alive
  connections, one per concurrent request, so that it is not what saturates first;
- the "top pages/screens over a date range" aggregation as Spark SQL on the same gold table
  (``collect()`` on a warm local session), at concurrency 1 and 8, and the ratio of its
  latency to the API's uncached latency.

Usage: ``python tests/performance/bench_serving.py [web-user-analytics|mobile-user-analytics]``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import uvloop
from harness import (
    ALL_CORES,
    PRODUCTS,
    BenchProduct,
    latency_summary,
    measured,
    produce_generated_days,
    service_process,
    spark_pid,
    work_dir,
    write_result,
)

from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.spark import build_spark_session
from lakehouse_events.product import event_pipeline, topic_specs
from lakehouse_platform.orchestrator import run_pipeline
from lakehouse_testing.plugin import running_broker

FIRST_DAY = date(2026, 3, 2)
DAYS = 2
REQUESTS = 2000
CONCURRENCY = (1, 8, 32)
WORKERS = (1, 2)
SPARK_REQUESTS = 40
API_CORES, CLIENT_CORES = {1 % (os.cpu_count() or 1)}, {0}


@dataclass(frozen=True)
class RangeQuery:
    """One question asked both ways: an API path and the Spark SQL that answers it."""

    api: str
    gold_table: str
    sql: str


RANGE_QUERIES = {
    "web-user-analytics": RangeQuery(
        api="/v1/pages/top?start={start}&end={end}&limit=20",
        gold_table="page_stats",
        sql="SELECT page_path, sum(views) AS views, sum(unique_visitors) AS visitor_days, "
        "sum(entrances) AS entrances, sum(exits) AS exits, "
        "sum(avg_time_on_page_seconds * views) / sum(CASE WHEN avg_time_on_page_seconds IS NOT NULL "
        "THEN views END) AS avg_time_on_page_seconds "
        "FROM delta.`{location}` WHERE date BETWEEN '{start}' AND '{end}' "
        "GROUP BY page_path ORDER BY views DESC, page_path LIMIT 20",
    ),
    "mobile-user-analytics": RangeQuery(
        api="/v1/screens/top?start={start}&end={end}&limit=20",
        gold_table="screen_stats",
        sql="SELECT screen_name, sum(views) AS views, sum(devices) AS device_days, "
        "sum(entries) AS entries, sum(exits) AS exits, "
        "sum(avg_seconds_on_screen * views) / sum(CASE WHEN avg_seconds_on_screen IS NOT NULL "
        "THEN views END) AS avg_seconds_on_screen "
        "FROM delta.`{location}` WHERE date BETWEEN '{start}' AND '{end}' "
        "GROUP BY screen_name ORDER BY views DESC, screen_name LIMIT 20",
    ),
}


def date_ranges(first: int, count: int) -> list[tuple[date, date]]:
    """Distinct ranges (numbered from ``first``) that all cover the generated days: asked once
    each, every one misses the API's cache."""
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    return [
        (FIRST_DAY - timedelta(days=i // 150), last + timedelta(days=i % 150))
        for i in range(first, first + count)
    ]


def concurrent_latencies(
    action: Callable[[Any], None], items: Sequence[Any], concurrency: int
) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()

    def timed_call(item: Any) -> None:
        began = time.perf_counter()
        action(item)
        elapsed = time.perf_counter() - began
        with lock:
            latencies.append(elapsed)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(timed_call, items))
    return latencies


async def _keep_alive_client(
    host: str, port: int, paths: list[str], latencies: list[float], next_path: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while next_path[0] < len(paths):
            path = paths[next_path[0]]
            next_path[0] += 1
            began = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"GET {path} answered {status}")
            latencies.append(time.perf_counter() - began)
    finally:
        writer.close()


async def _load(url: str, paths: list[str], concurrency: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    next_path = [0]
    await asyncio.gather(
        *(_keep_alive_client(host, int(port), paths, latencies, next_path) for _ in range(concurrency))
    )
    return latencies


def api_run(url: str, api_pids: Sequence[int], paths: Sequence[str], concurrency: int) -> dict[str, Any]:
    """``paths`` asked over ``concurrency`` keep-alive connections; the API's CPU share sums its
    processes (the supervisor and every worker)."""
    pids = {f"api_{i}": pid for i, pid in enumerate(api_pids)}
    with measured({**pids, "load_client": os.getpid()}) as run:
        latencies = uvloop.run(_load(url, list(paths), concurrency))
    share = {
        "api": round(sum(run.cpu_share[name] for name in pids), 3),
        "load_client": run.cpu_share["load_client"],
    }
    return {
        **latency_summary(latencies),
        "requests_per_second": len(paths) / run.seconds,
        "cpu_share": share,
    }


def worker_pids(pid: int) -> list[int]:
    """``pid`` and its child processes (the workers of a multi-process service)."""
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return [pid, *children]


def api_figures(
    bench: BenchProduct,
    env: dict[str, str],
    workers: int,
    repeated: list[str],
    distinct: Callable[[int], list[str]],
) -> dict[str, Any]:
    """Cached and uncached runs at every concurrency against the API with ``workers`` processes."""
    cores = API_CORES if workers == 1 else ALL_CORES
    os.sched_setaffinity(0, CLIENT_CORES if workers == 1 else ALL_CORES)
    api: dict[str, Any] = {}
    worker_env = {**env, f"{bench.env_prefix}SERVING__WORKERS": str(workers)}
    with service_process(bench, "api", worker_env, cores=cores) as (url, api_pid):
        time.sleep(1.0 if workers > 1 else 0)
        pids = worker_pids(api_pid)
        api_run(url, pids, distinct(len(CONCURRENCY))[:100], 4)
        for concurrency in CONCURRENCY:
            api[f"cached_concurrency_{concurrency}"] = api_run(
                url, pids, repeated * (REQUESTS // len(repeated)), concurrency
            )
        for run, concurrency in enumerate(CONCURRENCY):
            api[f"uncached_concurrency_{concurrency}"] = api_run(url, pids, distinct(run), concurrency)
    os.sched_setaffinity(0, ALL_CORES)
    return api


def build_lake(bench: BenchProduct, spark: Any, bootstrap: str, lake_root: str, size: int) -> int:
    config = bench.product.load_config()
    ensure_topics(bootstrap, topic_specs(config.topics))
    days = [FIRST_DAY + timedelta(days=d) for d in range(DAYS)]
    messages = produce_generated_days(
        bench, bootstrap=bootstrap, topic=config.topics["events"].name, days=days, size=size, seed=7
    )
    pipeline = event_pipeline(
        bench.product, config, spark=lambda: spark, bootstrap_servers=bootstrap, lake_root=lake_root
    )
    run = run_pipeline(pipeline)
    if run.status != "succeeded":
        raise RuntimeError(f"building the lake failed: {[t.error for t in run.tasks if t.error]}")
    return len(messages)


def main(bench: BenchProduct) -> None:
    size = int(os.environ.get("BENCH_SIZE", str(bench.product.default_size // 2)))
    query = RANGE_QUERIES[bench.name]
    work = work_dir(f"serving-{bench.name}")
    with running_broker(work / "kafka") as broker:
        bootstrap = broker.config.bootstrap_servers
        env = bench.environment(bootstrap=bootstrap, work=work)
        os.environ.update(env)
        settings = LakehouseSettings()
        spark = build_spark_session(f"bench-serving-{bench.name}", settings=settings)
        events = build_lake(bench, spark, bootstrap, settings.lake_root, size)

    def distinct_paths(run: int) -> list[str]:
        return [query.api.format(start=s, end=e) for s, e in date_ranges(run * REQUESTS, REQUESTS)]

    repeated = [*bench.product.example_queries(FIRST_DAY), distinct_paths(0)[0]]
    by_workers = {workers: api_figures(bench, env, workers, repeated, distinct_paths) for workers in WORKERS}
    api = by_workers[1]

    location = next(
        t.location(settings.lake_root) for t in bench.product.gold_tables if t.name == query.gold_table
    )
    ranges = date_ranges(0, SPARK_REQUESTS)
    statements = [query.sql.format(location=location, start=s, end=e) for s, e in ranges]
    spark.sql(statements[0]).collect()
    spark_figures: dict[str, Any] = {}
    for concurrency in (1, 8):
        with measured({"spark": spark_pid(spark)}) as run:
            latencies = concurrent_latencies(lambda sql: spark.sql(sql).collect(), statements, concurrency)
        spark_figures[f"concurrency_{concurrency}"] = {**latency_summary(latencies), **run.cpu_share}
    spark.stop()

    write_result(
        f"serving_{bench.name}",
        {
            "api": api,
            **{f"api_workers_{w}": figures for w, figures in by_workers.items() if w != 1},
            "spark_sql": spark_figures,
            "spark_sql_to_api_p50_ratio": {
                f"concurrency_{c}": spark_figures[f"concurrency_{c}"]["p50_ms"]
                / api[f"uncached_concurrency_{c}"]["p50_ms"]
                for c in (1, 8)
            },
        },
        data={
            "product": bench.name,
            "generated_size_per_day": size,
            "days": DAYS,
            "events": events,
            "range_query": {"api": query.api, "spark_sql": query.sql},
            "cached_paths": repeated,
            "requests_per_api_run": REQUESTS,
            "api_workers": list(WORKERS),
            "spark_sql_statements_per_run": SPARK_REQUESTS,
        },
    )


if __name__ == "__main__":
    main(PRODUCTS[sys.argv[1] if len(sys.argv) > 1 else "web-user-analytics"])
