"""What every benchmark shares: the machine's description, a private Kafka broker, CPU pinning
and CPU-time accounting, latency percentiles, the products under test and the result files.

Benchmarks measure; they never assert a time. Each writes one JSON file under ``results/``
that states the machine, the data size and the event size next to its figures.
"""

from __future__ import annotations

import atexit
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from raw_kafka import bare_producer

from lakehouse_core.ingestion.bronze import run_bronze_ingestion
from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_events.collector.envelope import collect_batch
from lakehouse_events.product import EventProduct, bronze_job, run_gold, run_silver, topic_specs
from lakehouse_events.segment_client import as_replay
from lakehouse_platform.stack.kafka_broker import LocalKafkaBroker
from lakehouse_testing.plugin import free_port
from mobile_user_analytics.pipeline import MOBILE
from web_user_analytics.pipeline import WEB

RESULTS_DIR = Path(__file__).parent / "results"
WRITE_KEY = "bench-write-key"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ALL_CORES = set(range(os.cpu_count() or 1))
#: The 1-minute load average when this benchmark process started: other work on the machine.
LOAD_AT_START = os.getloadavg()[0]


@dataclass(frozen=True)
class BenchProduct:
    """A product as the benchmarks drive it: its platform description and its env prefix."""

    product: EventProduct
    env_prefix: str

    @property
    def name(self) -> str:
        return self.product.name

    def environment(self, *, bootstrap: str, work: Path) -> dict[str, str]:
        """Variables that point the product's configuration at the benchmark's broker and lake."""
        return {
            f"{self.env_prefix}COLLECTOR__WRITE_KEYS": orjson.dumps([WRITE_KEY]).decode(),
            f"{self.env_prefix}PSEUDONYMISATION_KEY": "bench-key",
            "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "LAKEHOUSE_LAKE_ROOT": str(work / "lake"),
            "LAKEHOUSE_STATE_DIR": str(work / "state"),
        }


PRODUCTS = {p.name: p for p in (BenchProduct(WEB, "WEB_"), BenchProduct(MOBILE, "MOBILE_"))}


def kafka_records(messages: Sequence[Mapping[str, Any]]) -> tuple[list[bytes], list[bytes]]:
    """The values and keys the collector would write to Kafka for ``messages`` (all valid)."""
    collected = collect_batch({"batch": list(messages)}, received_at=datetime.now(UTC), client_ip=None)
    if collected.invalid:
        raise ValueError(
            f"{len(collected.invalid)} generated messages are invalid: {collected.invalid[0].reason}"
        )
    return [e.value for e in collected.events], [e.key for e in collected.events]


def with_events_topic(config: Any, topic: str) -> Any:
    """The product's configuration with its events on another topic."""
    events = config.topics["events"].model_copy(update={"name": topic})
    return config.model_copy(update={"topics": {**config.topics, "events": events}})


def produce_generated_days(
    bench: BenchProduct, *, bootstrap: str, topic: str, days: Sequence[date], size: int, seed: int
) -> list[dict[str, Any]]:
    """Generate ``size`` visitors or devices on each of ``days`` (seed ``seed + i`` for the
    i-th day), write them to ``topic`` as the collector would, and return the messages."""
    messages = [
        as_replay(m)
        for offset, day in enumerate(days)
        for m in bench.product.generate(day, size, seed + offset)
    ]
    bare_producer(bootstrap, topic, *kafka_records(messages))
    return messages


def warm_up(spark: Any, bench: BenchProduct, config: Any, *, bootstrap: str, work: Path) -> None:
    """Run bronze, silver and gold once on a small day in a throw-away lake, so that measured
    runs find the JVM's classes loaded and its code compiled, as a long-running job would."""
    config = with_events_topic(config, "bench.warm-up")
    ensure_topics(bootstrap, topic_specs(config.topics))
    produce_generated_days(
        bench, bootstrap=bootstrap, topic="bench.warm-up", days=[date(2026, 1, 5)], size=20, seed=1
    )
    lake_root = str(work / "warm-up-lake")
    run_bronze_ingestion(
        spark, bronze_job(bench.product, config, bootstrap_servers=bootstrap, lake_root=lake_root)
    )
    run_silver(bench.product, spark, config, lake_root=lake_root)
    run_gold(bench.product, spark, config, lake_root=lake_root)


def machine() -> dict[str, Any]:
    with Path("/proc/meminfo").open() as meminfo:
        total_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "java": _java_version(),
        "platform": platform.platform(),
        "load_average_1m_at_start": round(LOAD_AT_START, 2),
    }


def _java_version() -> str:
    done = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    return done.stderr.splitlines()[0] if done.stderr else "unknown"


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile (0..1) of ``samples``."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(seconds, 0.5) * 1000,
        "p99_ms": percentile(seconds, 0.99) * 1000,
        "mean_ms": statistics.fmean(seconds) * 1000,
        "samples": len(seconds),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pin(pid: int, cores: set[int]) -> None:
    """Pin every thread of ``pid`` (threads started later inherit it) to ``cores``."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cores)
        except (ProcessLookupError, PermissionError):
            continue


def unpin(pid: int) -> None:
    pin(pid, ALL_CORES)


def spark_pid(spark: Any) -> int:
    """The pid of the JVM behind a local PySpark session (its py4j gateway process)."""
    return int(spark.sparkContext._gateway.proc.pid)


@dataclass
class Measured:
    """Wall time of a block and the CPU share (cores busy) of each watched process during it."""

    seconds: float = 0.0
    cpu_share: dict[str, float] = field(default_factory=dict)


@contextmanager
def measured(processes: Mapping[str, int]) -> Iterator[Measured]:
    result = Measured()
    before = {name: cpu_seconds(pid) for name, pid in processes.items()}
    started = time.perf_counter()
    yield result
    result.seconds = time.perf_counter() - started
    result.cpu_share = {
        name: round((cpu_seconds(pid) - before[name]) / result.seconds, 3) for name, pid in processes.items()
    }


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    outcome = action()
    return outcome, time.perf_counter() - started


@contextmanager
def ready_process(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    port: int,
    cores: set[int],
    what: str,
    timeout: float = 60,
) -> Iterator[tuple[str, int]]:
    """``command`` serving on ``port``, pinned to ``cores`` (a child inherits the affinity of the
    thread that starts it); yields its URL and pid once ``/ready`` answers 200, and terminates it
    at the end."""
    parent_cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    process = subprocess.Popen(
        list(command),
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.sched_setaffinity(0, parent_cores)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not become ready")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def service_process(
    bench: BenchProduct, command: str, env: Mapping[str, str], *, cores: set[int]
) -> Iterator[tuple[str, int]]:
    """The product's ``collector`` or ``api`` command on a free port, pinned to ``cores``; yields
    its URL and pid once ``/ready`` answers 200."""
    port = free_port()
    section = {"collector": "COLLECTOR", "api": "SERVING"}[command]
    with ready_process(
        [str(Path(sys.executable).with_name(bench.name)), command],
        {**env, f"{bench.env_prefix}{section}__PORT": str(port)},
        port=port,
        cores=cores,
        what=f"the {bench.name} {command}",
    ) as service:
        yield service


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def broker_pid(broker: LocalKafkaBroker) -> int:
    pid = broker.status().pid
    if pid is None:
        raise RuntimeError("the benchmark's Kafka broker is not running")
    return pid


def work_dir(name: str) -> Path:
    """A temporary folder for the broker's log and the lake, removed when the process ends
    (kept when ``BENCH_KEEP_WORK`` is set, to look inside)."""
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    if not os.environ.get("BENCH_KEEP_WORK"):
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def write_result(name: str, figures: Mapping[str, Any], *, data: Mapping[str, Any]) -> Path:
    """Write ``results/<name>.json`` with the machine and the data the figures were measured on."""
    report = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": dict(data),
        **figures,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    target = RESULTS_DIR / f"{name}.json"
    target.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    print(f"wrote {target}")
    return target
