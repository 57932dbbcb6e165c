"""A product's ingestion path against its raw ceilings, on the product's own generated events.

- Collector: events/s accepted *with Kafka's acknowledgement* (the product's ``collector``
  command, one uvicorn process) and request latency p50/p99, as a ratio to a bare
  confluent-kafka producer sending the same events. Broker and load client share core 0; the
  collector and the bare producer each get core 1 to themselves.
- Kafka → bronze: rows/s of the Spark Structured Streaming job (available-now, checkpointed,
  Delta sink), as a ratio to a bare confluent-kafka consumer reading the same topic.
- Freshness: the bronze stream running continuously while events arrive at a steady rate;
  how long from the Kafka record's timestamp until the row is readable in bronze (polled with
  delta-rs every 100 ms), as a multiple of the trigger interval.

Usage: ``python tests/performance/bench_ingestion.py [web-user-analytics|mobile-user-analytics]``.
"""

from __future__ import annotations

import gzip
import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import httpx
import orjson
from confluent_kafka import Producer
from harness import (
    ALL_CORES,
    PRODUCTS,
    WRITE_KEY,
    BenchProduct,
    broker_pid,
    kafka_records,
    latency_summary,
    measured,
    percentile,
    pin,
    service_process,
    spark_pid,
    unpin,
    warm_up,
    work_dir,
    write_result,
)
from raw_kafka import bare_consumer, bare_producer

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.ingestion.bronze import run_bronze_ingestion, start_bronze_stream
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.producer import PRODUCER_DEFAULTS
from lakehouse_core.settings import LakehouseSettings
from lakehouse_core.spark import build_spark_session
from lakehouse_events.product import bronze_job, topic_specs
from lakehouse_events.segment_client import as_replay
from lakehouse_testing.plugin import running_broker

SIZE = int(os.environ.get("BENCH_SIZE", "4000"))
DAY = date(2026, 3, 2)
BATCH = 100
CLIENT_THREADS = 8
LOAD_CORES, SERVER_CORE = {0}, {1 % (os.cpu_count() or 1)}
TRIGGER_SECONDS = 2.0
FRESHNESS_RATE = 200
FRESHNESS_SECONDS = 30
POLL_SECONDS = 0.1
RAW_TOPIC = "bench.raw.events"


def post_batches(url: str, bodies: Sequence[bytes]) -> list[float]:
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    latencies: list[float] = []
    local = threading.local()

    def post(body: bytes) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(auth=(WRITE_KEY, ""), timeout=60)
        began = time.perf_counter()
        response = local.client.post(f"{url}/v1/batch", content=body, headers=headers)
        latencies.append(time.perf_counter() - began)
        response.raise_for_status()

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(post, bodies))
    return latencies


def steady_producer(bootstrap: str, topic: str, values: Sequence[bytes], keys: Sequence[bytes]) -> None:
    """Produce ``FRESHNESS_RATE`` events per second; Kafka stamps each with its produce time."""
    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    started = time.monotonic()
    for i, (value, key) in enumerate(zip(values, keys, strict=True)):
        delay = started + i / FRESHNESS_RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        producer.produce(topic, value, key=key)
        producer.poll(0)
    producer.flush(60)


def freshness(spark: Any, bench: BenchProduct, config: Any, bootstrap: str, lake_root: str) -> dict[str, Any]:
    """Produce at a steady rate while the bronze stream runs; time each record to visibility."""
    job = bronze_job(bench.product, config, bootstrap_servers=bootstrap, lake_root=lake_root)
    location = job.table.location(lake_root)
    seen = {
        (r["partition"], r["offset"])
        for r in read_arrow(location, columns=["partition", "offset"]).to_pylist()
    }
    messages = [as_replay(m) for m in bench.product.generate(DAY, SIZE // 10, 99)]
    total = FRESHNESS_RATE * FRESHNESS_SECONDS
    values, keys = kafka_records(
        [messages[i % len(messages)] | {"messageId": f"fresh-{i}"} for i in range(total)]
    )
    query = start_bronze_stream(spark, job, continuous=True, trigger_seconds=TRIGGER_SECONDS)
    lags: list[float] = []
    try:
        sender = threading.Thread(target=steady_producer, args=(bootstrap, job.topics[0], values, keys))
        sender.start()
        deadline = time.monotonic() + FRESHNESS_SECONDS + 120
        while len(lags) < total and time.monotonic() < deadline:
            rows = read_arrow(location, columns=["partition", "offset", "kafka_timestamp"]).to_pylist()
            now = datetime.now(UTC)
            for row in rows:
                where = (row["partition"], row["offset"])
                if where not in seen:
                    seen.add(where)
                    lags.append((now - row["kafka_timestamp"]).total_seconds())
            time.sleep(POLL_SECONDS)
        sender.join()
    finally:
        query.stop()
    if len(lags) < total:
        raise RuntimeError(f"only {len(lags)} of {total} records reached bronze")
    p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
    return {
        "trigger_seconds": TRIGGER_SECONDS,
        "events_per_second_offered": FRESHNESS_RATE,
        "seconds_of_load": FRESHNESS_SECONDS,
        "records": len(lags),
        "p50_seconds": p50,
        "p99_seconds": p99,
        "max_seconds": max(lags),
        "p50_in_trigger_intervals": p50 / TRIGGER_SECONDS,
        "p99_in_trigger_intervals": p99 / TRIGGER_SECONDS,
        "poll_interval_seconds": POLL_SECONDS,
    }


def main(bench: BenchProduct) -> None:
    work = work_dir(bench.name)
    with running_broker(work / "kafka") as broker:
        bootstrap = broker.config.bootstrap_servers
        env = bench.environment(bootstrap=bootstrap, work=work)
        os.environ.update(env)
        config, settings = bench.product.load_config(), LakehouseSettings()
        topic = config.topics["events"].name
        ensure_topics(
            bootstrap,
            [
                *topic_specs(config.topics),
                TopicSpec(RAW_TOPIC, partitions=config.topics["events"].partitions),
            ],
        )
        messages = [as_replay(m) for m in bench.product.generate(DAY, SIZE, 7)]
        values, keys = kafka_records(messages)
        sent_at = datetime.now(UTC).isoformat()
        bodies = [
            gzip.compress(orjson.dumps({"batch": messages[i : i + BATCH], "sentAt": sent_at}))
            for i in range(0, len(messages), BATCH)
        ]

        broker_process = broker_pid(broker)
        pin(broker_process, LOAD_CORES)
        os.sched_setaffinity(0, SERVER_CORE)
        with measured({"broker": broker_process, "producer": os.getpid()}) as raw:
            raw_rate = bare_producer(bootstrap, RAW_TOPIC, values, keys)
        os.sched_setaffinity(0, LOAD_CORES)
        with service_process(bench, "collector", env, cores=SERVER_CORE) as (url, collector_pid):
            processes = {"broker": broker_process, "collector": collector_pid, "load_client": os.getpid()}
            with measured(processes) as load:
                latencies = post_batches(url, bodies)
        collector_rate = len(messages) / load.seconds
        unpin(broker_process)
        os.sched_setaffinity(0, ALL_CORES)

        with measured({"broker": broker_process, "consumer": os.getpid()}) as consume:
            raw_consume_rate = bare_consumer(bootstrap, topic, len(messages))
        spark = build_spark_session(f"bench-{bench.name}", settings=settings)
        warm_up(spark, bench, config, bootstrap=bootstrap, work=work)
        job = bronze_job(bench.product, config, bootstrap_servers=bootstrap, lake_root=settings.lake_root)
        with measured({"broker": broker_process, "spark": spark_pid(spark)}) as bronze:
            bronze_rows = run_bronze_ingestion(spark, job)
        fresh = freshness(spark, bench, config, bootstrap, settings.lake_root)
        spark.stop()

    bronze_rate = bronze_rows / bronze.seconds
    write_result(
        f"ingestion_{bench.name}",
        {
            "collector": {
                "events_per_second": collector_rate,
                "request_latency": latency_summary(latencies),
                "cpu_share": load.cpu_share,
                "raw_producer_events_per_second": raw_rate,
                "raw_producer_cpu_share": raw.cpu_share,
                "ratio_to_raw_producer": collector_rate / raw_rate,
            },
            "kafka_to_bronze": {
                "rows": bronze_rows,
                "seconds": bronze.seconds,
                "rows_per_second": bronze_rate,
                "cpu_share": bronze.cpu_share,
                "raw_consumer_rows_per_second": raw_consume_rate,
                "raw_consumer_cpu_share": consume.cpu_share,
                "ratio_to_raw_consumer": bronze_rate / raw_consume_rate,
                "note": "wall time from query start to its last checkpoint commit, on a warmed-up JVM",
            },
            "bronze_freshness_continuous": fresh,
        },
        data={
            "product": bench.name,
            "generated_size": SIZE,
            "events": len(messages),
            "mean_event_bytes": round(statistics.fmean(len(v) for v in values)),
            "collector_batch_events": BATCH,
            "collector_client_threads": CLIENT_THREADS,
            "pinning": "collector and bare producer on core 1; broker and HTTP load client on core 0; "
            "consumers and Spark unpinned",
        },
    )


if __name__ == "__main__":
    main(PRODUCTS[sys.argv[1] if len(sys.argv) > 1 else "web-user-analytics"])
