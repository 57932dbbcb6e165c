"""A Kafka Connect worker in distributed mode (one node), run as a JVM process from the jars that
``make setup`` laid out, with connectors (Debezium's PostgreSQL one) loaded from the plugin path.

Distributed mode keeps the connectors' configurations, source offsets and status in Kafka
topics, so a worker killed mid-stream resumes from its last committed log position; a connector
is registered over the REST API (:class:`lakehouse_core.kafka.connect.ConnectClient`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lakehouse_core.errors import LakehouseError
from lakehouse_core.jars import jar_paths
from lakehouse_core.kafka.connect import ConnectClient
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.stack.kafka_broker import StackError, _alive, find_java, port_in_use

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


class LocalKafkaConnect:
    def __init__(self, config: ConnectConfig) -> None:
        self.config = config
        self.state_dir = config.state_dir
        self.logs_dir = self.state_dir / "logs"
        self.pid_file = self.state_dir / "connect.pid"
        self.properties_file = self.state_dir / "worker.properties"

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def console_file(self) -> Path:
        return self.logs_dir / "console.log"

    @property
    def client(self) -> ConnectClient:
        return ConnectClient(self.config.url)

    def status(self) -> ConnectStatus:
        pid = self._live_pid()
        return ConnectStatus(pid is not None, pid, self.config.url, str(self.log_file))

    def start(self, *, timeout: float = 120.0) -> ConnectStatus:
        """Start the worker unless it runs already; return once its REST API lists the
        installed connector plugins. The broker must run."""
        if self._live_pid() is not None:
            return self.status()
        self.pid_file.unlink(missing_ok=True)
        java = find_java()
        classpath = os.pathsep.join(str(p) for p in jar_paths(self.config.jars_dir, "connect"))
        if not any(self.config.plugin_path.glob("*/*.jar")):
            raise StackError(
                f"no Kafka Connect plugins under {self.config.plugin_path}; run `make setup` to "
                "fetch the Debezium connector with Maven"
            )
        if port_in_use(self.config.host, self.config.port):
            raise StackError(
                f"port {self.config.port} on {self.config.host} is in use by another process; stop "
                "it or choose another port (LAKEHOUSE_CONNECT_PORT)"
            )
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.properties_file.write_text(self._worker_properties())
        process = self._launch(java, classpath)
        self._await_ready(process, timeout)
        return self.status()

    def stop(self, *, timeout: float = 30.0) -> bool:
        """Stop the worker gracefully (SIGTERM: tasks commit their offsets), SIGKILL after
        ``timeout``. Returns whether a worker was running."""
        pid = self._live_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            self.kill()
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """Kill the worker at once, as a crash would (SIGKILL)."""
        pid = self._live_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and port_in_use(self.config.host, self.config.port):
                time.sleep(0.1)

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
            return None
        return pid if _alive(pid) else None

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

    def _launch(self, java: str, classpath: str) -> subprocess.Popen[bytes]:
        log4j = resources.files("lakehouse_platform.stack") / "log4j2.properties"
        command = [
            java,
            f"-Xms{self.config.heap}",
            f"-Xmx{self.config.heap}",
            "-XX:+UseG1GC",
            "-XX:TieredStopAtLevel=1",
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
        client = self.client
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.pid_file.unlink(missing_ok=True)
                raise StackError(
                    f"the Kafka Connect worker exited during start-up (code {process.returncode}):\n"
                    + self._log_tail()
                )
            if client.answers():
                try:
                    if client.plugins():
                        return
                except LakehouseError:
                    pass
            time.sleep(0.5)
        self.stop(timeout=5)
        raise StackError(f"Kafka Connect did not answer within {timeout:.0f}s:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        texts = []
        for path in (self.console_file, self.log_file):
            if path.is_file():
                texts.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(texts) or "(no log output)"
