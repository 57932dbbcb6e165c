"""A Kafka Connect worker in distributed mode (one node), run as a JVM process from the jars that
``make setup`` laid out, with connectors (Debezium's PostgreSQL one) loaded from the plugin path.

Distributed mode keeps the connectors' configurations, source offsets and status in Kafka
topics, so a worker killed mid-stream resumes from its last committed log position; a connector
is registered over the REST API (:class:`lakehouse_core.kafka.connect.ConnectClient`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lakehouse_core.errors import LakehouseError
from lakehouse_core.kafka.connect import ConnectClient
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.stack.jvm_service import LocalJvmService, StackError, refuse_taken_ports

MAIN_CLASS = "org.apache.kafka.connect.cli.ConnectDistributed"


@dataclass(frozen=True, kw_only=True)
class ConnectConfig:
    state_dir: Path
    jars_dir: Path
    bootstrap_servers: str
    port: int = 8083
    host: str = "127.0.0.1"
    group_id: str = "lakehouse-connect"
    heap: str = "512m"

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> ConnectConfig:
        return cls(
            state_dir=settings.state_dir / "connect",
            jars_dir=settings.jars_dir,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            port=settings.connect_port,
            heap=settings.connect_heap,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def plugin_path(self) -> Path:
        return self.jars_dir / "connect-plugins"


@dataclass(frozen=True)
class ConnectStatus:
    running: bool
    pid: int | None
    url: str
    log_file: str


class LocalKafkaConnect(LocalJvmService):
    title = "the Kafka Connect worker"
    main_class = MAIN_CLASS
    jar_set = "connect"
    pid_name = "connect.pid"
    properties_name = "worker.properties"
    jvm_options = ("-XX:TieredStopAtLevel=1",)
    ready_interval = 0.5

    def __init__(self, config: ConnectConfig) -> None:
        super().__init__(config, ports=(config.port,))
        self.config = config

    @property
    def client(self) -> ConnectClient:
        return ConnectClient(self.config.url)

    def status(self) -> ConnectStatus:
        pid = self._live_pid()
        return ConnectStatus(pid is not None, pid, self.config.url, str(self.log_file))

    def start(self, *, timeout: float = 120.0) -> ConnectStatus:
        """Start the worker unless it runs already; return once its REST API lists the
        installed connector plugins. The broker must run."""
        self._start_unless_running(timeout)
        return self.status()

    def _prepare(self, java: str, classpath: str) -> None:
        if not any(self.config.plugin_path.glob("*/*.jar")):
            raise StackError(
                f"no Kafka Connect plugins under {self.config.plugin_path}; run `make setup` to "
                "fetch the Debezium connector with Maven"
            )
        refuse_taken_ports(
            self.config.host, (self.config.port,), choose="another port (LAKEHOUSE_CONNECT_PORT)"
        )
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(self._worker_properties())

    def _ready(self) -> bool:
        client = self.client
        if not client.answers():
            return False
        try:
            return bool(client.plugins())
        except LakehouseError:
            return False

    def _worker_properties(self) -> str:
        c = self.config
        group = c.group_id
        entries = {
            "bootstrap.servers": c.bootstrap_servers,
            "group.id": group,
            "listeners": f"http://{c.host}:{c.port}",
            "rest.advertised.host.name": c.host,
            "rest.advertised.port": str(c.port),
            "plugin.path": str(c.plugin_path.resolve()),
            "plugin.discovery": "hybrid_warn",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "false",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "true",
            "config.storage.topic": f"{group}.configs",
            "offset.storage.topic": f"{group}.offsets",
            "status.storage.topic": f"{group}.status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "offset.storage.partitions": "1",
            "status.storage.partitions": "1",
            "offset.flush.interval.ms": "1000",
            "scheduled.rebalance.max.delay.ms": "0",
        }
        return "".join(f"{key}={value}\n" for key, value in entries.items())
