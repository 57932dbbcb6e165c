"""A single-node Apache Kafka broker in KRaft mode, run as a JVM process from the jars that
``make setup`` laid out, with its storage, pid file and logs under one state folder.

``start`` is idempotent (a running broker is reported, not started twice) and fails fast with
the reason when Java is missing, a port is taken or the broker exits during start-up. The
storage survives ``stop`` and crashes, so a restart recovers the topics and their data.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from lakehouse_core.kafka.admin import broker_answers
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.stack.jvm_service import LocalJvmService, StackError, find_java, refuse_taken_ports

__all__ = ["BrokerConfig", "BrokerStatus", "LocalKafkaBroker", "StackError", "find_java", "new_cluster_id"]

MAIN_CLASS = "kafka.Kafka"


@dataclass(frozen=True, kw_only=True)
class BrokerConfig:
    state_dir: Path
    jars_dir: Path
    port: int = 9092
    controller_port: int = 9093
    host: str = "127.0.0.1"
    heap: str = "512m"

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> BrokerConfig:
        return cls(
            state_dir=settings.state_dir / "kafka",
            jars_dir=settings.jars_dir,
            port=settings.kafka_port,
            controller_port=settings.kafka_controller_port,
            heap=settings.kafka_heap,
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap_servers: str
    data_dir: str
    log_file: str


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding. Like Kafka's own
    ``Uuid.randomUuid``, never one starting with "-", which command lines read as an option."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


class LocalKafkaBroker(LocalJvmService):
    title = "the Kafka broker"
    main_class = MAIN_CLASS
    jar_set = "kafka"
    pid_name = "broker.pid"
    properties_name = "server.properties"

    def __init__(self, config: BrokerConfig) -> None:
        super().__init__(config, ports=(config.port, config.controller_port))
        self.config = config
        self.data_dir = self.state_dir / "data"
        self.ports_file = self.state_dir / "ports.json"

    def status(self) -> BrokerStatus:
        pid = self._live_pid()
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap_servers=self.config.bootstrap_servers,
            data_dir=str(self.data_dir),
            log_file=str(self.log_file),
        )

    def start(self, *, timeout: float = 90.0) -> BrokerStatus:
        """Start the broker unless it runs already; return once it answers clients."""
        self._start_unless_running(timeout)
        return self.status()

    def purge(self) -> None:
        """Stop the broker and delete its storage and logs."""
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _prepare(self, java: str, classpath: str) -> None:
        refuse_taken_ports(
            self.config.host,
            (self.config.port, self.config.controller_port),
            choose="other ports (LAKEHOUSE_KAFKA_PORT, LAKEHOUSE_KAFKA_CONTROLLER_PORT)",
        )
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        ports = {"port": self.config.port, "controller_port": self.config.controller_port}
        formatted = (self.data_dir / "meta.properties").is_file()
        if formatted and self.ports_file.is_file():
            recorded = json.loads(self.ports_file.read_text())
            if recorded["controller_port"] != self.config.controller_port:
                raise StackError(
                    f"the broker storage in {self.data_dir} was formatted for controller port "
                    f"{recorded['controller_port']}; use it again or purge the storage "
                    "(lakehouse stack down --purge)"
                )
        self.properties_file.write_text(self._server_properties())
        if not formatted:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            command = [
                java,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "--cluster-id",
                new_cluster_id(),
                "--config",
                str(self.properties_file),
            ]
            completed = subprocess.run(command, capture_output=True, text=True, check=False)
            if completed.returncode != 0:
                raise StackError(f"formatting Kafka storage failed: {completed.stderr or completed.stdout}")
        self.ports_file.write_text(json.dumps(ports))

    def _server_properties(self) -> str:
        c = self.config
        entries = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{c.host}:{c.controller_port}",
            "listeners": f"PLAINTEXT://{c.host}:{c.port},CONTROLLER://{c.host}:{c.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{c.host}:{c.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
        }
        return "".join(f"{key}={value}\n" for key, value in entries.items())

    def _ready(self) -> bool:
        return broker_answers(self.config.bootstrap_servers, timeout=1.0)
