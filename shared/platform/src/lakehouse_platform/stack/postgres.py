"""A local PostgreSQL server from Debian's ``postgresql`` package, with logical replication on
(``wal_level=logical``) so Debezium can stream its changes, its cluster, pid and log under one
state folder.

PostgreSQL refuses to run as root: when this process is root, the server runs as an
unprivileged system user (``postgres`` by default, the one Debian's package creates) through
``setpriv``, and the cluster folder belongs to that user. ``start`` is idempotent and fails fast
with the reason when the binaries are missing, the port is taken or the server exits; the
cluster survives ``stop``.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.stack.jvm_service import StackError, refuse_taken_ports

SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "unix_socket_directories": "''",
    "wal_level": "logical",
    "max_wal_senders": "10",
    "max_replication_slots": "10",
    "max_connections": "50",
    "shared_buffers": "64MB",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


@dataclass(frozen=True, kw_only=True)
class PostgresConfig:
    state_dir: Path
    port: int = 5442
    host: str = "127.0.0.1"
    user: str = "lakehouse"
    database: str = "operational"
    bin_dir: Path | None = None
    os_user: str = "postgres"

    @classmethod
    def from_settings(cls, settings: LakehouseSettings) -> PostgresConfig:
        return cls(
            state_dir=settings.state_dir / "postgres",
            port=settings.postgres_port,
            user=settings.postgres_user,
            database=settings.postgres_database,
            bin_dir=settings.postgres_bin_dir,
            os_user=settings.postgres_os_user,
        )

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class PostgresStatus:
    running: bool
    pid: int | None
    dsn: str
    data_dir: str
    log_file: str


def find_postgres_bin_dir(configured: Path | None = None) -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``: the configured one, else the
    newest of Debian's ``/usr/lib/postgresql/<major>/bin``."""
    candidates = [configured] if configured else _debian_bin_dirs()
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    where = str(configured) if configured else "/usr/lib/postgresql/*/bin"
    raise StackError(
        f"PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in {where}: install "
        "Debian's postgresql package (`make setup` does as root) or set LAKEHOUSE_POSTGRES_BIN_DIR"
    )


def _debian_bin_dirs() -> list[Path]:
    root = Path("/usr/lib/postgresql")
    majors = [p for p in root.glob("*") if re.fullmatch(r"\d+", p.name)] if root.is_dir() else []
    return [p / "bin" for p in sorted(majors, key=lambda p: int(p.name), reverse=True)]


class LocalPostgres:
    def __init__(self, config: PostgresConfig) -> None:
        self.config = config
        self.state_dir = config.state_dir
        self.data_dir = self.state_dir / "data"
        self.log_file = self.state_dir / "postgres.log"

    def status(self) -> PostgresStatus:
        pid = self._live_pid()
        return PostgresStatus(
            running=pid is not None,
            pid=pid,
            dsn=self.config.dsn,
            data_dir=str(self.data_dir),
            log_file=str(self.log_file),
        )

    def start(self, *, timeout: float = 60.0) -> PostgresStatus:
        """Start the server unless it runs already; return once it accepts connections, with
        the database of ``config.database`` created."""
        if self._live_pid() is not None:
            return self.status()
        bin_dir = find_postgres_bin_dir(self.config.bin_dir)
        refuse_taken_ports(
            self.config.host, (self.config.port,), choose="another port (LAKEHOUSE_POSTGRES_PORT)"
        )
        runner = self._runner()
        self._prepare_cluster(bin_dir, runner)
        self._write_settings()
        options = f"-p {self.config.port}"
        started = self._run(
            runner,
            [
                str(bin_dir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                str(int(timeout)),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-o",
                options,
            ],
        )
        if started.returncode != 0:
            raise StackError(
                f"PostgreSQL did not start (pg_ctl exit {started.returncode}):\n"
                f"{started.stdout}{started.stderr}{self._log_tail()}"
            )
        self._ensure_database(bin_dir, runner)
        return self.status()

    def stop(self, *, timeout: float = 30.0) -> bool:
        """Stop the server (fast shutdown: sessions are ended, the cluster stays consistent).
        Returns whether a server was running."""
        if self._live_pid() is None:
            return False
        bin_dir = find_postgres_bin_dir(self.config.bin_dir)
        stopped = self._run(
            self._runner(),
            [
                str(bin_dir / "pg_ctl"),
                "stop",
                "-w",
                "-t",
                str(int(timeout)),
                "-m",
                "fast",
                "-D",
                str(self.data_dir),
            ],
        )
        if stopped.returncode != 0:
            raise StackError(f"PostgreSQL did not stop: {stopped.stdout}{stopped.stderr}")
        return True

    def purge(self) -> None:
        """Stop the server and delete its cluster and log."""
        self.stop()
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def execute(self, sql: str, *, database: str | None = None) -> str:
        """Run SQL with psql against the running server; its output, unaligned, tuples only."""
        bin_dir = find_postgres_bin_dir(self.config.bin_dir)
        ran = self._run(self._runner(), [*self._psql(bin_dir, database or self.config.database), sql])
        if ran.returncode != 0:
            raise StackError(f"psql failed on {self.config.dsn}: {ran.stderr.strip()}")
        return ran.stdout

    def _psql(self, bin_dir: Path, database: str) -> list[str]:
        c = self.config
        return [
            str(bin_dir / "psql"),
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            c.host,
            "-p",
            str(c.port),
            "-U",
            c.user,
            "-d",
            database,
            "-tAc",
        ]

    def _live_pid(self) -> int | None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        return pid if b"postgres" in cmdline and str(self.data_dir).encode() in cmdline else None

    def _runner(self) -> list[str]:
        """The command prefix that runs a PostgreSQL binary as an unprivileged user."""
        if os.geteuid() != 0:
            return []
        user = self.config.os_user
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise StackError(
                f"PostgreSQL refuses to run as root and there is no user {user!r} to run it as: "
                "install Debian's postgresql package (it creates one), create one "
                "(useradd --system postgres) or set LAKEHOUSE_POSTGRES_OS_USER"
            ) from None
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise StackError(
                f"PostgreSQL refuses to run as root and setpriv (util-linux), which runs it as "
                f"{user!r}, is missing: install util-linux or start the stack as a non-root user"
            )
        return [setpriv, f"--reuid={user}", f"--regid={user}", "--init-groups", "--reset-env", "--"]

    def _run(self, runner: list[str], command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*runner, *command],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=self.state_dir,
            start_new_session=True,
        )

    def _prepare_cluster(self, bin_dir: Path, runner: list[str]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if runner:
            entry = pwd.getpwnam(self.config.os_user)
            os.chown(self.state_dir, entry.pw_uid, entry.pw_gid)
            reachable = self._run(runner, ["test", "-w", str(self.state_dir)])
            if reachable.returncode != 0:
                raise StackError(
                    f"PostgreSQL runs as {self.config.os_user!r} (it refuses root), and that user "
                    f"cannot reach {self.state_dir}: a parent folder is not searchable by others; "
                    "choose another LAKEHOUSE_STATE_DIR or start the stack as a non-root user"
                )
        if (self.data_dir / "PG_VERSION").is_file():
            return
        created = self._run(
            runner,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.config.user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )
        if created.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise StackError(f"initdb failed: {created.stderr or created.stdout}")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("include_if_exists = 'lakehouse.conf'\n")

    def _write_settings(self) -> None:
        target = self.data_dir / "lakehouse.conf"
        target.write_text("".join(f"{key} = {value}\n" for key, value in SERVER_SETTINGS.items()))
        if os.geteuid() == 0:
            owner = self.data_dir.stat()
            os.chown(target, owner.st_uid, owner.st_gid)

    def _ensure_database(self, bin_dir: Path, runner: list[str]) -> None:
        psql = self._psql(bin_dir, "postgres")
        name = self.config.database
        found = self._run(runner, [*psql, f"SELECT 1 FROM pg_database WHERE datname = '{name}'"])
        if found.returncode == 0 and found.stdout.strip() == "1":
            return
        created = self._run(runner, [*psql, f'CREATE DATABASE "{name}"'])
        if created.returncode != 0:
            raise StackError(f"creating database {name!r} failed: {created.stderr}")

    def _log_tail(self, lines: int = 20) -> str:
        if not self.log_file.is_file():
            return "(no log output)"
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
