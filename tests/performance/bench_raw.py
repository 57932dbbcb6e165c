"""Raw ceilings of this machine: what Kafka and the disk do with nothing of ours in the way.

- Kafka's own ``ProducerPerformance`` / ``ConsumerPerformance`` tools (the kafka-tools jar the
  broker runs from) and a bare confluent-kafka producer (``produce`` + ``poll``, the platform's
  producer settings: idempotent, acks=all, lz4, linger 5 ms) and consumer (``assign`` +
  batch ``consume``), at 200 B and 1 KiB events;
- sequential write to the disk the lake lives on, fsync'd.

The broker is pinned to core 0 and the client under test to core 1, so producer and broker do
not compete for one core; the CPU share of each is recorded.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from harness import (
    broker_pid,
    measured,
    pin,
    work_dir,
    write_result,
)
from raw_kafka import bare_consumer, bare_producer

from lakehouse_core.jars import jar_paths
from lakehouse_core.kafka.admin import TopicSpec, ensure_topics
from lakehouse_core.kafka.producer import PRODUCER_DEFAULTS
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.stack.kafka_broker import find_java
from lakehouse_testing.plugin import running_broker

SIZES = (200, 1024)
RECORDS = {
    200: int(os.environ.get("BENCH_RAW_RECORDS_200", "400000")),
    1024: int(os.environ.get("BENCH_RAW_RECORDS_1024", "150000")),
}
PARTITIONS = 3
BROKER_CORE, CLIENT_CORE = {0}, {1 % (os.cpu_count() or 1)}
#: The producer settings that shape throughput, given to the Java tool as to confluent-kafka.
THROUGHPUT_SETTINGS = ("enable.idempotence", "acks", "linger.ms", "compression.type")
DISK_BYTES = int(os.environ.get("BENCH_DISK_MIB", "1024")) * 1024 * 1024


def kafka_tool(bootstrap: str, tool: str, *args: str) -> str:
    classpath = os.pathsep.join(str(p) for p in jar_paths(LakehouseSettings().jars_dir, "kafka"))
    parent_cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, CLIENT_CORE)
    done = subprocess.run(
        [find_java(), "-Xmx512m", "-cp", classpath, f"org.apache.kafka.tools.{tool}", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    os.sched_setaffinity(0, parent_cores)
    if done.returncode != 0:
        raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr[-2000:] or done.stdout[-2000:]}")
    return done.stdout


def tool_producer(bootstrap: str, topic: str, size: int, records: int) -> dict[str, float]:
    settings = [
        f"{key}={str(value).lower()}"
        for key, value in PRODUCER_DEFAULTS.items()
        if key in THROUGHPUT_SETTINGS
    ]
    out = kafka_tool(
        bootstrap,
        "ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--record-size",
        str(size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        *settings,
    )
    summary = out.strip().splitlines()[-1]
    rate = re.search(r"([\d.]+) records/sec", summary)
    p50, p99 = re.search(r"([\d.]+) ms 50th", summary), re.search(r"([\d.]+) ms 99th", summary)
    if rate is None:
        raise RuntimeError(f"unexpected ProducerPerformance output: {summary}")
    return {
        "events_per_second": float(rate.group(1)),
        "latency_p50_ms": float(p50.group(1)) if p50 else -1,
        "latency_p99_ms": float(p99.group(1)) if p99 else -1,
    }


def tool_consumer(bootstrap: str, topic: str, records: int) -> dict[str, float]:
    out = kafka_tool(
        bootstrap,
        "ConsumerPerformance",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--messages",
        str(records),
        "--group",
        f"perf-{time.time_ns()}",
        "--timeout",
        "60000",
    )
    header, values = out.strip().splitlines()[-2:]
    row = dict(
        zip((h.strip() for h in header.split(",")), (v.strip() for v in values.split(",")), strict=True)
    )
    return {
        "events_per_second": float(row["nMsg.sec"]),
        "fetch_events_per_second": float(row["fetch.nMsg.sec"]),
        "rebalance_ms": float(row["rebalance.time.ms"]),
    }


def disk_write(folder: Path, total: int) -> float:
    """MiB/s of a sequential write of ``total`` bytes in 1 MiB blocks, fsync'd at the end."""
    block = os.urandom(1024 * 1024)
    target = folder / "sequential.bin"
    started = time.perf_counter()
    with target.open("wb", buffering=0) as out:
        for _ in range(total // len(block)):
            out.write(block)
        os.fsync(out.fileno())
    elapsed = time.perf_counter() - started
    target.unlink()
    return total / elapsed / 1024 / 1024


def main() -> None:
    work = work_dir("raw")
    figures: dict[str, Any] = {}
    with running_broker(work / "kafka") as broker:
        bootstrap = broker.config.bootstrap_servers
        pin(broker_pid(broker), BROKER_CORE)
        processes = {"broker": broker_pid(broker), "client": os.getpid()}
        for size in SIZES:
            records = RECORDS[size]
            tool_topic, bare_topic = f"raw.tool.{size}", f"raw.bare.{size}"
            ensure_topics(
                bootstrap,
                [TopicSpec(tool_topic, partitions=PARTITIONS), TopicSpec(bare_topic, partitions=PARTITIONS)],
            )
            with measured({"broker": processes["broker"]}) as tool_produce:
                tool_p = tool_producer(bootstrap, tool_topic, size, records)
            with measured({"broker": processes["broker"]}) as tool_consume:
                tool_c = tool_consumer(bootstrap, tool_topic, records)
            value = os.urandom(size // 2).hex().encode()[:size]
            keys = [str(i % 5000).encode() for i in range(records)]
            os.sched_setaffinity(0, CLIENT_CORE)
            with measured(processes) as produce:
                bare_p = bare_producer(bootstrap, bare_topic, [value] * records, keys)
            with measured(processes) as consume:
                bare_c = bare_consumer(bootstrap, bare_topic, records)
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
            figures[f"event_{size}_bytes"] = {
                "records": records,
                "kafka_producer_perf_tool": {**tool_p, "broker_cpu_share": tool_produce.cpu_share["broker"]},
                "kafka_consumer_perf_tool": {**tool_c, "broker_cpu_share": tool_consume.cpu_share["broker"]},
                "bare_confluent_producer": {"events_per_second": bare_p, "cpu_share": produce.cpu_share},
                "bare_confluent_consumer": {"events_per_second": bare_c, "cpu_share": consume.cpu_share},
                "bare_producer_ratio_to_perf_tool": bare_p / tool_p["events_per_second"],
                "bare_consumer_ratio_to_perf_tool": bare_c / tool_c["events_per_second"],
            }
    figures["sequential_disk_write_mib_per_second"] = disk_write(work, DISK_BYTES)
    write_result(
        "raw_ceilings",
        figures,
        data={
            "event_sizes_bytes": list(SIZES),
            "records": {str(k): v for k, v in RECORDS.items()},
            "partitions": PARTITIONS,
            "producer_settings": dict(PRODUCER_DEFAULTS),
            "disk_write_mib": DISK_BYTES // 1024 // 1024,
            "pinning": "broker on core 0; the client under test (perf tool or confluent-kafka) on core 1",
        },
    )


if __name__ == "__main__":
    main()
