"""The lifecycle of a local service run as one JVM process from the jars that ``make setup``
laid out: the java command line, the process with its console log, the pid file, the wait until
it answers (or the reason it did not, with the tail of its logs), and the stop, SIGTERM first,
SIGKILL when it does not end in time.

A service subclasses :class:`LocalJvmService` with its main class, its checks and files before
the launch (:meth:`LocalJvmService._prepare`) and its readiness probe
(:meth:`LocalJvmService._ready`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import ClassVar, Protocol

from lakehouse_core.errors import LakehouseError
from lakehouse_core.jars import JarSet, jar_paths


class StackError(LakehouseError):
    """A local service could not be started or stopped; the message says why."""


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


def refuse_taken_ports(host: str, ports: Sequence[int], *, choose: str) -> None:
    """Raise when another process holds one of ``ports``; ``choose`` names the settings to change,
    e.g. "another port (LAKEHOUSE_CONNECT_PORT)"."""
    for port in ports:
        if port_in_use(host, port):
            raise StackError(
                f"port {port} on {host} is in use by another process; stop it or choose {choose}"
            )


class JvmServiceConfig(Protocol):
    @property
    def state_dir(self) -> Path: ...
    @property
    def jars_dir(self) -> Path: ...
    @property
    def host(self) -> str: ...
    @property
    def heap(self) -> str: ...


class LocalJvmService(ABC):
    title: ClassVar[str]
    main_class: ClassVar[str]
    jar_set: ClassVar[JarSet]
    pid_name: ClassVar[str]
    properties_name: ClassVar[str]
    jvm_options: ClassVar[tuple[str, ...]] = ()
    ready_interval: ClassVar[float] = 0.3

    def __init__(self, config: JvmServiceConfig, *, ports: Sequence[int]) -> None:
        self.state_dir = config.state_dir
        self.logs_dir = self.state_dir / "logs"
        self.pid_file = self.state_dir / self.pid_name
        self.properties_file = self.state_dir / self.properties_name
        self._jars_dir = config.jars_dir
        self._host = config.host
        self._heap = config.heap
        self._ports = tuple(ports)

    @property
    def log_file(self) -> Path:
        return self.logs_dir / "server.log"

    @property
    def console_file(self) -> Path:
        return self.logs_dir / "console.log"

    @abstractmethod
    def _prepare(self, java: str, classpath: str) -> None:
        """Check what the launch needs and write the files it reads; raise StackError if not."""

    @abstractmethod
    def _ready(self) -> bool:
        """Whether the started service answers its clients."""

    def _start_unless_running(self, timeout: float) -> None:
        if self._live_pid() is not None:
            return
        self.pid_file.unlink(missing_ok=True)
        java = find_java()
        classpath = os.pathsep.join(str(p) for p in jar_paths(self._jars_dir, self.jar_set))
        self._prepare(java, classpath)
        process = self._launch(java, classpath)
        self._await_ready(process, timeout)

    def stop(self, *, timeout: float = 30.0) -> bool:
        """Stop the service gracefully (SIGTERM, then SIGKILL after ``timeout``).
        Returns whether it was running."""
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
                time.sleep(0.05)
        self._await_ports_released()
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """Kill the service at once, as a crash would (SIGKILL)."""
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
        while time.monotonic() < deadline and any(port_in_use(self._host, p) for p in self._ports):
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
        if self.main_class.encode() not in cmdline or str(self.properties_file).encode() not in cmdline:
            return None  # the pid was reused by another process
        return pid if _alive(pid) else None

    def _launch(self, java: str, classpath: str) -> subprocess.Popen[bytes]:
        log4j = resources.files("lakehouse_platform.stack") / "log4j2.properties"
        command = [
            java,
            f"-Xms{self._heap}",
            f"-Xmx{self._heap}",
            "-XX:+UseG1GC",
            *self.jvm_options,
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={self.logs_dir}",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            classpath,
            self.main_class,
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
                    f"{self.title} exited during start-up (code {process.returncode}):\n" + self._log_tail()
                )
            if self._ready():
                return
            time.sleep(self.ready_interval)
        self.stop(timeout=5)
        raise StackError(f"{self.title} did not answer within {timeout:.0f}s:\n{self._log_tail()}")

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
