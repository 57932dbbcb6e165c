"""What the fault tests share: a product rigged for one test (its environment, topics, lake and
command line), its commands run as their own process group so SIGKILL takes the whole job, a
steady load of tracking calls from a thread, and the facts read back from Kafka and Delta
without Spark.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_core.tables import Layer, TableSpec, checkpoint_location
from lakehouse_events.collector import product_collector_app
from lakehouse_events.product import EventProduct, event_pipeline, reconcile_product, topic_specs
from lakehouse_events.reconciliation import Reconciliation, row_count
from lakehouse_events.segment_client import SegmentClient, as_replay
from lakehouse_platform.orchestrator import PipelineRun, run_pipeline
from lakehouse_platform.stack.kafka_broker import LocalKafkaBroker
from lakehouse_testing.plugin import running_broker, serve_in_thread
from mobile_user_analytics.pipeline import MOBILE
from web_user_analytics.pipeline import WEB

DAY = date(2026, 3, 2)
WRITE_KEY = "fault-write-key"
BIN = Path(sys.executable).parent
PRODUCTS: dict[str, tuple[EventProduct, str]] = {"web": (WEB, "WEB_"), "mobile": (MOBILE, "MOBILE_")}


def wait_until(condition: Callable[[], bool], what: str, *, timeout: float = 240.0) -> None:
    """Poll ``condition`` every 50 ms; fail the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f}s waiting for {what}"
        time.sleep(0.05)


def delta_version_exists(location: str, version: int) -> bool:
    """Whether the Delta table at ``location`` has committed ``version`` (its log entry exists)."""
    return (Path(location) / "_delta_log" / f"{version:020d}.json").is_file()


class Process:
    """A product command as an operator starts it: its own process group (Spark's JVM is a child
    of the Python process), its output in a log file for the failure message."""

    def __init__(self, command: Sequence[str], *, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                list(command), env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for(self, condition: Callable[[], bool], what: str, *, timeout: float = 240.0) -> None:
        """Wait for ``condition`` while the process runs; fail with its log if it ends first."""

        def reached() -> bool:
            if condition():
                return True
            assert self.alive(), f"{what}: the process ended ({self.popen.returncode}):\n{self.tail()}"
            return False

        wait_until(reached, what, timeout=timeout)

    def kill_when(
        self, condition: Callable[[], bool], what: str, *, timeout: float = 300.0
    ) -> Callable[[], None]:
        """Kill the process from a watcher thread as soon as ``condition`` holds, so the test can
        work meanwhile; returns a function that waits for the kill and fails as
        :meth:`wait_for` would."""
        failures: list[BaseException] = []

        def watch() -> None:
            try:
                self.wait_for(condition, what, timeout=timeout)
            except BaseException as exc:  # handed to the test by killed()
                failures.append(exc)
            finally:
                self.kill()

        watcher = threading.Thread(target=watch, name="killer", daemon=True)
        watcher.start()

        def killed() -> None:
            watcher.join(timeout + 60)
            assert not watcher.is_alive(), f"{what}: the watcher did not end"
            if failures:
                raise failures[0]

        return killed

    def kill(self) -> None:
        """SIGKILL to the whole process group, as a crash or ``kill -9`` of the job would."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=60)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class Rig:
    """One product set up for one test: unique topics, its own lake, the environment its
    command line reads (``<PREFIX>_*`` and ``LAKEHOUSE_*``) and the same settings in-process."""

    product: EventProduct
    config: Any
    env: dict[str, str]
    bootstrap_servers: str
    lake_root: str
    workdir: Path

    @property
    def topic(self) -> str:
        return str(self.config.topics["events"].name)

    def create_topics(self) -> None:
        ensure_topics(self.bootstrap_servers, topic_specs(self.config.topics))

    def generate(self, size: int, *, seed: int = 11) -> list[dict[str, Any]]:
        """A generated, seeded day of the product's traffic, ready to replay."""
        return [as_replay(m) for m in self.product.generate(DAY, size, seed)]

    @contextmanager
    def collector(self) -> Iterator[str]:
        """The product's collector served in this process; yields its base URL."""
        app = product_collector_app(
            self.config, self.config.collector, bootstrap_servers=self.bootstrap_servers
        )
        with serve_in_thread(app) as url:
            yield url

    def client(self, url: str) -> SegmentClient:
        """A Segment client that keeps retrying for about a minute, a second apart at most."""
        return SegmentClient(
            url, WRITE_KEY, timeout=30.0, max_attempts=60, backoff_seconds=0.2, max_backoff_seconds=1.0
        )

    def start(self, *args: str, env: dict[str, str] | None = None) -> Process:
        """Start ``<product> <args>`` (the product's console script) as its own process group."""
        log = self.workdir / f"{self.product.name}-{'-'.join(args)}-{uuid.uuid4().hex[:6]}.log"
        return Process(
            [str(BIN / self.product.name), *args], env={**os.environ, **self.env, **(env or {})}, log=log
        )

    def pipeline(self, spark: Any, *steps: str) -> PipelineRun:
        """Run (some of) the product's pipeline in this process on the session's Spark; assert
        it succeeded."""
        pipeline = event_pipeline(
            self.product,
            self.config,
            spark=lambda: spark,
            bootstrap_servers=self.bootstrap_servers,
            lake_root=self.lake_root,
        )
        run = run_pipeline(pipeline, only=list(steps) or None)
        assert run.status == "succeeded", [t.model_dump() for t in run.tasks if t.status != "succeeded"]
        return run

    def reconcile(self) -> Reconciliation:
        return reconcile_product(
            self.product, self.config, bootstrap_servers=self.bootstrap_servers, lake_root=self.lake_root
        )

    def checkpoint(self, job: str) -> Path:
        return Path(checkpoint_location(self.lake_root, self.product.name, job))

    def location(self, spec: TableSpec) -> str:
        return spec.location(self.lake_root)

    def rows(self, spec: TableSpec) -> int:
        return row_count(spec, self.lake_root)

    def column(self, spec: TableSpec, name: str) -> list[Any]:
        return read_arrow(self.location(spec), columns=[name])[name].to_pylist()

    def kafka_message_ids(self) -> list[str]:
        """The ``messageId`` of every record on the events topic, read from the start of each
        partition up to its end (no consumer group, nothing committed)."""
        return [
            orjson.loads(value)["messageId"] for value in kafka_values(self.bootstrap_servers, self.topic)
        ]

    def bronze_records(self) -> tuple[list[tuple[str, int, int]], list[str]]:
        """Bronze's (topic, partition, offset) of each row and the ``messageId`` in its payload."""
        table = read_arrow(
            self.location(self.product.bronze), columns=["topic", "partition", "offset", "value"]
        )
        locations = list(
            zip(
                table["topic"].to_pylist(),
                table["partition"].to_pylist(),
                table["offset"].to_pylist(),
                strict=True,
            )
        )
        return locations, [orjson.loads(v)["messageId"] for v in table["value"].to_pylist()]

    def silver_event_ids(self) -> list[str]:
        return self.column(self.product.events, "event_id")

    def gold(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every gold table's rows, in a canonical order, floats rounded to 9 digits (Spark may
        add in a different order from one run to the next)."""

        def canonical(value: Any) -> Any:
            return round(value, 9) if isinstance(value, float) else value

        snapshot = {}
        for spec in self.product.gold_tables:
            if spec.layer is not Layer.GOLD:
                continue
            rows = read_arrow(self.location(spec)).to_pylist()
            snapshot[spec.name] = sorted(
                (tuple((k, canonical(v)) for k, v in sorted(row.items())) for row in rows), key=repr
            )
        return snapshot

    def copy_lake(self, name: str) -> Rig:
        """The same product on a copy of this rig's lake, as it is now (tables and checkpoints)."""
        copy = self.workdir / name
        shutil.copytree(self.lake_root, copy)
        return replace(self, lake_root=str(copy), env={**self.env, "LAKEHOUSE_LAKE_ROOT": str(copy)})


def kafka_values(bootstrap_servers: str, topic: str, *, timeout: float = 30.0) -> list[bytes]:
    """Every record value on ``topic`` now, partition by partition from the low watermark."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"fault-check-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        ends = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout) for p in partitions
        }
        pending = {p: high for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        while pending:
            assert time.monotonic() < deadline, f"{topic}: could not read up to the end of {sorted(pending)}"
            for message in consumer.consume(num_messages=1000, timeout=1.0):
                assert message.error() is None, message.error()
                values.append(message.value())
                if message.offset() + 1 >= pending.get(message.partition(), -1):
                    pending.pop(message.partition(), None)
        return values
    finally:
        consumer.close()


class PacedSender(threading.Thread):
    """A steady load from a thread: ``messages`` sent in batches of ``batch`` with a pause
    between them, through one retrying client; what the collector acknowledged (a 200 answer,
    after any retries) is recorded. Before its last quarter of batches the sender waits for
    ``hold`` to be set, so a fault the test injects lands while there is still load to send."""

    def __init__(
        self, client: SegmentClient, messages: list[dict[str, Any]], *, batch: int = 25, pause: float = 0.1
    ) -> None:
        super().__init__(name="paced-sender", daemon=True)
        self.client = client
        self.chunks = [messages[i : i + batch] for i in range(0, len(messages), batch)]
        self.pause = pause
        self.hold = threading.Event()
        self.acknowledged: list[str] = []
        self.batches_done = 0
        self.retries = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        held_from = len(self.chunks) - len(self.chunks) // 4
        try:
            for index, chunk in enumerate(self.chunks):
                if index == held_from and not self.hold.wait(timeout=600):
                    raise TimeoutError("the sender was never released")
                report = self.client.send(chunk)
                self.retries += report.retries
                self.acknowledged.extend(m["messageId"] for m in chunk)
                self.batches_done += 1
                time.sleep(self.pause)
        except BaseException as exc:  # handed to the test by finish()
            self.error = exc

    def finish(self, *, timeout: float = 180.0) -> None:
        """Release the sender, wait for it and re-raise what stopped it, if anything."""
        self.hold.set()
        self.join(timeout)
        assert not self.is_alive(), f"the sender did not finish within {timeout:.0f}s"
        if self.error is not None:
            raise self.error


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lake_root: str) -> Callable[..., Rig]:
    """``rig("web" | "mobile", bootstrap_servers=...)``: the product on unique topics, this
    test's lake and state folder; the environment is also set in this process."""

    def make(name: str, *, bootstrap_servers: str) -> Rig:
        product, prefix = PRODUCTS[name]
        topic = f"fault.{name}.{uuid.uuid4().hex[:10]}"
        env = {
            f"{prefix}COLLECTOR__WRITE_KEYS": orjson.dumps([WRITE_KEY]).decode(),
            f"{prefix}PSEUDONYMISATION_KEY": "fault-pseudonymisation-key",
            f"{prefix}TOPICS__EVENTS__NAME": topic,
            f"{prefix}TOPICS__DEAD_LETTER__NAME": f"{topic}.dlq",
            "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
            "LAKEHOUSE_LAKE_ROOT": lake_root,
            "LAKEHOUSE_STATE_DIR": str(tmp_path / "state"),
            "LAKEHOUSE_SPARK_DRIVER_MEMORY": "1g",
            "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "2",
        }
        for variable, value in env.items():
            monkeypatch.setenv(variable, value)
        return Rig(
            product=product,
            config=product.load_config(),
            env=env,
            bootstrap_servers=bootstrap_servers,
            lake_root=lake_root,
            workdir=tmp_path,
        )

    return make


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafkaBroker]:
    """A Kafka broker for this test alone, so stopping it hurts no other test."""
    with running_broker(tmp_path / "own-kafka") as broker:
        yield broker


def answers(url: str) -> bool:
    """Whether a service at ``url`` answers ``/health`` with 200."""
    try:
        return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False
