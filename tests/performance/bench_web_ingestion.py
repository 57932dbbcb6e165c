"""Benchmark of web-user-analytics' ingestion and serving path, against its raw ceilings.

Run with ``make bench`` (or ``python tests/performance/bench_web_ingestion.py``). It starts its
own Kafka broker in a temporary folder, then measures on one generated, seeded data set:

- collector: events/s accepted *with Kafka's acknowledgement*, and request latency p50/p99,
  as a ratio to a bare confluent-kafka producer sending the same events;
- Kafka → bronze: rows/s of the Spark Structured Streaming job (available-now), as a ratio to
  a bare confluent-kafka consumer reading the same topic in batches;
- serving: API latency p50/p99 at several concurrencies, through real HTTP (uvicorn).

Results go to ``tests/performance/results/web_ingestion.json`` with the data size, event size
and machine. Figures vary with the machine; nothing here asserts a time.
"""

from __future__ import annotations

import gzip
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from lakehouse_core.http_server import serve_in_thread
from lakehouse_core.ingestion.bronze import run_bronze_ingestion
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.consumer import build_consumer, consume_batches
from lakehouse_core.kafka.producer import EventProducer, OutgoingMessage
from lakehouse_core.segment_client import as_replay
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.spark import build_spark_session
from lakehouse_platform.event_products import bronze_job, collector_app, topic_specs
from lakehouse_platform.orchestrator import run_pipeline
from lakehouse_platform.stack.kafka_broker import BrokerConfig, LocalKafkaBroker
from lakehouse_testing.plugin import free_port
from web_user_analytics.config import load_web_config
from web_user_analytics.ingestion.generator import generate_day
from web_user_analytics.pipeline import WEB, build_pipeline
from web_user_analytics.serving.app import create_app

RESULTS = Path(__file__).parent / "results" / "web_ingestion.json"
VISITORS = int(os.environ.get("BENCH_VISITORS", "4000"))
BATCH = 100
CLIENT_THREADS = 4
API_REQUESTS = 400
WRITE_KEY = "bench-write-key"


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> dict[str, Any]:
    with Path("/proc/meminfo").open() as meminfo:
        total_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def raw_produce(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes]) -> float:
    started = time.perf_counter()
    with EventProducer(bootstrap) as producer:
        producer.send_all(
            (OutgoingMessage(topic, v, key=k) for v, k in zip(values, keys, strict=True)), timeout=120
        )
    return len(values) / (time.perf_counter() - started)


def raw_consume(bootstrap: str, topic: str, expected: int) -> float:
    consumer = build_consumer(bootstrap, group_id=f"bench-{time.time_ns()}", topics=[topic])
    seen = 0
    try:
        started = time.perf_counter()
        for batch in consume_batches(consumer, batch_size=10_000, idle_timeout=2.0):
            seen += len(batch)
            if seen >= expected:
                break
        elapsed = time.perf_counter() - started
    finally:
        consumer.close()
    return seen / elapsed


def collector_load(url: str, bodies: list[bytes], events_per_body: list[int]) -> dict[str, float]:
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    latencies: list[float] = []

    def post(body: bytes) -> None:
        with httpx.Client(auth=(WRITE_KEY, ""), timeout=60) as client:
            began = time.perf_counter()
            response = client.post(f"{url}/v1/batch", content=body, headers=headers)
            latencies.append(time.perf_counter() - began)
            response.raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(post, bodies))
    elapsed = time.perf_counter() - started
    return {
        "events_per_second": sum(events_per_body) / elapsed,
        "request_p50_ms": percentile(latencies, 0.5) * 1000,
        "request_p99_ms": percentile(latencies, 0.99) * 1000,
    }


def api_latency(url: str, paths: list[str], concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=concurrency))

    def get(path: str) -> None:
        began = time.perf_counter()
        client.get(f"{url}{path}").raise_for_status()
        latencies.append(time.perf_counter() - began)

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get, paths * (API_REQUESTS // len(paths))))
    client.close()
    return {
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "requests": len(latencies),
    }


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-web-"))
    broker = LocalKafkaBroker(
        BrokerConfig(
            state_dir=work / "kafka",
            jars_dir=LakehouseSettings().jars_dir,
            port=free_port(),
            controller_port=free_port(),
        )
    )
    broker.start(timeout=120)
    bootstrap = broker.config.bootstrap_servers
    os.environ.update(
        {
            "WEB_COLLECTOR__WRITE_KEYS": orjson.dumps([WRITE_KEY]).decode(),
            "WEB_PSEUDONYMISATION_KEY": "bench-key",
            "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "LAKEHOUSE_LAKE_ROOT": str(work / "lake"),
            "LAKEHOUSE_STATE_DIR": str(work / "state"),
        }
    )
    try:
        config, settings = load_web_config(), LakehouseSettings()
        ensure_topics(bootstrap, [*topic_specs(config.topics), TopicSpec("bench.raw.v1", partitions=6)])
        day = date(2026, 3, 2)
        messages = [as_replay(m) for m in generate_day(day, visitors=VISITORS, seed=7)]
        values = [orjson.dumps(m) for m in messages]
        keys = [str(m.get("userId") or m["anonymousId"]).encode() for m in messages]
        chunks = [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]
        bodies = [
            gzip.compress(orjson.dumps({"batch": c, "sentAt": datetime.now(UTC).isoformat()})) for c in chunks
        ]

        raw_rate = raw_produce(bootstrap, "bench.raw.v1", values, keys)
        with serve_in_thread(collector_app(config, settings), port=free_port()) as url:
            collector = collector_load(url, bodies, [len(c) for c in chunks])
        raw_consume_rate = raw_consume(bootstrap, config.topics["events"].name, len(messages))

        spark = build_spark_session("bench-web", settings=settings)
        bronze_rows, bronze_seconds = timed(
            lambda: run_bronze_ingestion(
                spark, bronze_job(WEB, config, bootstrap_servers=bootstrap, lake_root=settings.lake_root)
            )
        )
        pipeline = build_pipeline(
            config, spark=lambda: spark, bootstrap_servers=bootstrap, lake_root=settings.lake_root
        )
        run, refine_seconds = timed(lambda: run_pipeline(pipeline, only=["silver", "gold"]))
        spark.stop()

        start, end = day.isoformat(), date(2026, 3, 3).isoformat()
        paths = [
            f"/v1/traffic?start={start}&end={end}",
            f"/v1/pages/top?start={start}&end={end}&limit=20",
            f"/v1/acquisition?start={start}&end={end}",
            f"/v1/funnels/signup?start={start}&end={end}",
        ]
        with serve_in_thread(create_app(config, lake_root=settings.lake_root), port=free_port()) as api:
            serving = {f"concurrency_{c}": api_latency(api, paths, c) for c in (1, 8, 32)}

        report = {
            "measured_at": datetime.now(UTC).isoformat(),
            "machine": machine(),
            "data": {
                "events": len(messages),
                "visitors": VISITORS,
                "mean_event_bytes": round(statistics.mean(len(v) for v in values)),
                "batch_size": BATCH,
                "collector_client_threads": CLIENT_THREADS,
            },
            "collector": {
                **collector,
                "raw_producer_events_per_second": raw_rate,
                "ratio_to_raw_producer": collector["events_per_second"] / raw_rate,
            },
            "kafka_to_bronze": {
                "rows": bronze_rows,
                "seconds": bronze_seconds,
                "rows_per_second": bronze_rows / bronze_seconds,
                "raw_consumer_rows_per_second": raw_consume_rate,
                "ratio_to_raw_consumer": (bronze_rows / bronze_seconds) / raw_consume_rate,
                "note": "job wall time including query start and checkpoint commits, Spark session excluded",
            },
            "silver_and_gold": {"seconds": refine_seconds, "status": run.status},
            "serving": {"queries": paths, **serving},
        }
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
