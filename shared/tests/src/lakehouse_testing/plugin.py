"""Fixtures for tests against the real components (loaded through the ``pytest11`` entry point).

- ``spark``: one SparkSession per test session, local mode, Delta and the Kafka source loaded.
- ``kafka_broker``: one real single-node Kafka broker per test session, on free ports, with its
  storage in a temporary folder; set ``LAKEHOUSE_TEST_KAFKA_BOOTSTRAP`` to use a running one.
- ``postgres_server``: one real PostgreSQL server per test session (logical replication on), on
  a free port, its cluster in a temporary folder the unprivileged server user can reach.
- ``kafka_connect``: one real Kafka Connect worker (distributed mode, Debezium's PostgreSQL
  connector on its plugin path) per test session, on the session broker.
- ``lake_root``: an empty lake folder per test.
- ``unique_topic``: a topic name no other test uses.

Spark runs without code generation and with one shuffle partition in the test session (see
:data:`SMALL_DATA_SPARK`).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.stack.kafka_broker import BrokerConfig, LocalKafkaBroker
from lakehouse_platform.stack.kafka_connect import ConnectConfig, LocalKafkaConnect
from lakehouse_platform.stack.postgres import LocalPostgres, PostgresConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MARKERS = {
    "unit": "pure logic, at most a local SparkSession on a handful of rows",
    "integration": "real Kafka, Spark or Delta at the edges of one component",
    "e2e": "a whole flow across components",
    "fault": "kills or stops a real component mid-flow",
}


#: How Spark runs in the test session and in the processes its tests start (set before any
#: settings are read, unless the environment sets them): tests hold a handful of rows, so
#: compiling the generated code of each plan is most of a job's time, and one shuffle partition
#: saves a task per stage. E.g. ``LAKEHOUSE_SPARK_CODEGEN=true`` tests with code generation.
SMALL_DATA_SPARK = {"LAKEHOUSE_SPARK_CODEGEN": "false", "LAKEHOUSE_SPARK_SHUFFLE_PARTITIONS": "1"}


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    for variable, value in SMALL_DATA_SPARK.items():
        os.environ.setdefault(variable, value)


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A free loopback port below the ephemeral range.

    A port from the ephemeral range can be taken by a client's own outgoing socket: a Kafka
    client reconnecting to a killed broker on 127.0.0.1 may connect to itself on that very
    port, and the broker then cannot bind it again. Servers (like 9092) live below the range.
    """
    low, _ = _ephemeral_range()
    candidates = list(range(max(1024, low - 12_000), low))
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port below the ephemeral range")


def local_broker(state_dir: Path, *, jars_dir: Path | None = None) -> LocalKafkaBroker:
    """A Kafka broker (not started) on free loopback ports, its storage in ``state_dir``."""
    return LocalKafkaBroker(
        BrokerConfig(
            state_dir=state_dir,
            jars_dir=jars_dir or LakehouseSettings().jars_dir,
            port=free_port(),
            controller_port=free_port(),
        )
    )


@contextmanager
def running_broker(state_dir: Path, *, jars_dir: Path | None = None) -> Iterator[LocalKafkaBroker]:
    """:func:`local_broker`, started for the block and stopped after it."""
    broker = local_broker(state_dir, jars_dir=jars_dir)
    broker.start(timeout=120)
    try:
        yield broker
    finally:
        broker.stop()


@dataclass(frozen=True)
class KafkaFixture:
    bootstrap_servers: str
    broker: LocalKafkaBroker | None


@pytest.fixture(scope="session")
def lakehouse_settings(tmp_path_factory: pytest.TempPathFactory) -> LakehouseSettings:
    """Settings for the test session: the real jars, a throw-away lake and state folder."""
    base = tmp_path_factory.mktemp("lakehouse")
    return LakehouseSettings(
        lake_root=str(base / "lake"),
        state_dir=base / "state",
        spark_driver_memory="2g",
    )


@pytest.fixture(scope="session")
def spark(
    lakehouse_settings: LakehouseSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SparkSession]:
    from lakehouse_core.spark import build_spark_session

    warehouse = tmp_path_factory.mktemp("warehouse")
    session = build_spark_session(
        "lakehouse-tests",
        settings=lakehouse_settings,
        extra_conf={
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={warehouse}",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def kafka_broker(lakehouse_settings: LakehouseSettings) -> Iterator[KafkaFixture]:
    external = os.environ.get("LAKEHOUSE_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield KafkaFixture(external, None)
        return
    with running_broker(
        lakehouse_settings.state_dir / "kafka", jars_dir=lakehouse_settings.jars_dir
    ) as broker:
        yield KafkaFixture(broker.config.bootstrap_servers, broker)


def reachable_state_dir(prefix: str) -> Path:
    """A new temporary folder that other users can traverse: PostgreSQL refuses root, so under
    root it runs as an unprivileged user, who cannot enter pytest's own (mode 700) folders."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    return folder


@contextmanager
def running_postgres(state_dir: Path) -> Iterator[LocalPostgres]:
    """A PostgreSQL server on a free port, its cluster in ``state_dir``, started for the block;
    stopped and deleted after it."""
    server = LocalPostgres(PostgresConfig(state_dir=state_dir, port=free_port()))
    server.start(timeout=60)
    try:
        yield server
    finally:
        server.purge()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    base = reachable_state_dir("lakehouse-test-postgres-")
    try:
        with running_postgres(base / "postgres") as server:
            yield server
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_connect(
    kafka_broker: KafkaFixture, lakehouse_settings: LakehouseSettings
) -> Iterator[LocalKafkaConnect]:
    worker = LocalKafkaConnect(
        ConnectConfig(
            state_dir=lakehouse_settings.state_dir / "connect",
            jars_dir=lakehouse_settings.jars_dir,
            bootstrap_servers=kafka_broker.bootstrap_servers,
            port=free_port(),
            group_id=f"lakehouse-connect-{uuid.uuid4().hex[:8]}",
        )
    )
    worker.start(timeout=120)
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture
def lake_root(tmp_path: Path) -> str:
    root = tmp_path / "lake"
    root.mkdir()
    return str(root)


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> str:
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]
    return f"test.{stem}.{uuid.uuid4().hex[:8]}"


@contextmanager
def serve_in_thread(app: Any, *, port: int | None = None) -> Iterator[str]:
    """A real uvicorn server for ``app`` on a free port; yields its base URL."""
    from lakehouse_core.http_server import serve_in_thread as serve

    with serve(app, port=port or free_port()) as url:
        yield url
