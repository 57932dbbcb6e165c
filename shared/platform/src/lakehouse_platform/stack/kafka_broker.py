"""A single-node Apache Kafka broker in KRaft mode, run as a JVM process from the jars that
``make setup`` laid out, with its storage, pid file and logs under one state folder.

``start`` is idempotent (a running broker is reported, not started twice) and fails fast with
the reason when Java is missing, a port is taken or the broker exits during start-up. The
storage survives ``stop`` and crashes, so a restart recovers the topics and their data.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lakehouse_core.errors import LakehouseError
from lakehouse_core.jars import jar_paths
from lakehouse_core.kafka.admin import broker_answers
from lakehouse_core.settings import LakehouseSettings

MAIN_CLASS = "kafka.Kafka"


class StackError(LakehouseError):
    """A local service could not be started or stopped; the message says why."""


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


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    if candidate is not None and candidate.is_file():
        return str(candidate)
    found = shutil.which("java")
    if found is None:
        raise StackError("Java not found: install a JDK 17+ (e.g. openjdk-17-jre-headless) or set JAVA_HOME")
    return found


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding. Like Kafka's own
    ``Uuid.randomUuid``, never one starting with "-", which command lines read as an option."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


class LocalKafkaBroker:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.state_dir = config.state_dir
        self.data_dir = self.state_dir / "data"
        self.logs_dir = self.state_dir / "logs"
        self.pid_file = self.state_dir / "broker.pid"
        self.properties_file = self.state_dir / "server.properties"
        self.ports_file = self.state_dir / "ports.json"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def console_file(self) -> Path:
        return self.logs_dir / "console.log"

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
        if self._live_pid() is not None:
            return self.status()
        self.pid_file.unlink(missing_ok=True)
        java = find_java()
        classpath = os.pathsep.join(str(p) for p in jar_paths(self.config.jars_dir, "kafka"))
        for port in (self.config.port, self.config.controller_port):
            if port_in_use(self.config.host, port):
                raise StackError(
                    f"port {port} on {self.config.host} is in use by another process; stop it or "
                    "choose other ports (LAKEHOUSE_KAFKA_PORT, LAKEHOUSE_KAFKA_CONTROLLER_PORT)"
                )
        self._prepare_storage(java, classpath)
        process = self._launch(java, classpath)
        self._await_ready(process, timeout)
        return self.status()

    def stop(self, *, timeout: float = 30.0) -> bool:
        """Stop the broker gracefully (SIGTERM, then SIGKILL after ``timeout``).
        Returns whether a broker was running."""
        pid = self._live_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self._await_ports_released()
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """Kill the broker at once, as a crash would (SIGKILL); the storage stays."""
        pid = self._live_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
            self._await_ports_released()

    def _await_ports_released(self, timeout: float = 15.0) -> None:
        """A killed JVM's leader thread turns zombie while its other threads still hold the
        sockets; wait until the ports can be bound again, so a restart finds them free."""
        deadline = time.monotonic() + timeout
        ports = (self.config.port, self.config.controller_port)
        while time.monotonic() < deadline and any(port_in_use(self.config.host, p) for p in ports):
            time.sleep(0.1)

    def purge(self) -> None:
        """Stop the broker and delete its storage and logs."""
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def _live_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        if MAIN_CLASS.encode() not in cmdline or str(self.properties_file).encode() not in cmdline:
            return None  # the pid was reused by another process
        return pid if _alive(pid) else None

    def _prepare_storage(self, java: str, classpath: str) -> None:
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

    def _launch(self, java: str, classpath: str) -> subprocess.Popen[bytes]:
        log4j = resources.files("lakehouse_platform.stack") / "log4j2.properties"
        command = [
            java,
            f"-Xms{self.config.heap}",
            f"-Xmx{self.config.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.logs_dir}",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            classpath,
            MAIN_CLASS,
            str(self.properties_file),
        ]
        with self.console_file.open("ab") as console:
            process = subprocess.Popen(
                command,
                stdout=console,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        return process

    def _await_ready(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise StackError(
                    f"the Kafka broker exited during start-up (code {process.returncode}):\n"
                    + self._log_tail()
                )
            if broker_answers(self.config.bootstrap_servers, timeout=1.0):
                return
            time.sleep(0.3)
        self.stop(timeout=5)
        raise StackError(f"the Kafka broker did not answer within {timeout:.0f}s:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        texts = []
        for path in (self.console_file, self.log_file):
            if path.is_file():
                texts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(texts) or "(no log output)"


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"
