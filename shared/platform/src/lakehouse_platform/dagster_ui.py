"""Where the Dagster UI keeps its instance, and the command that starts it (``lakehouse ui``).

The instance (run history, event log, schedule state) lives in SQLite under
``<state_dir>/dagster``, the folder ``DAGSTER_HOME`` names; its ``dagster.yaml`` is written when
missing and left alone after, so it can be edited. ``dagster dev`` serves the UI and runs the
daemon that fires schedules; with ``daemon=False`` only ``dagster-webserver`` runs (it starts
sooner; schedules then do not fire).
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

DEFINITIONS_MODULE = "lakehouse_platform.dagster_definitions"
DEFAULT_PORT = 3070
PORT_VARIABLE = "LAKEHOUSE_UI_PORT"

_INSTANCE_YAML = """\
# The lakehouse's local Dagster instance (written by `lakehouse ui` when missing).
storage:
  sqlite:
    base_dir: {storage}
telemetry:
  enabled: false
"""


def instance_home(state_dir: Path) -> Path:
    return state_dir / "dagster"


def ensure_instance(home: Path) -> Path:
    """``home`` with a ``dagster.yaml`` (SQLite storage in ``home/storage``); returns the file."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_INSTANCE_YAML.format(storage=(home / "storage").resolve()), encoding="utf-8")
    return config


@dataclass(frozen=True)
class UiCommand:
    argv: list[str]
    env: dict[str, str]

    @property
    def url(self) -> str:
        host, port = self.argv[self.argv.index("--host") + 1], self.argv[self.argv.index("--port") + 1]
        return f"http://{host}:{port}"


def ui_command(*, home: Path, host: str, port: int, daemon: bool = True) -> UiCommand:
    """The Dagster UI over :data:`DEFINITIONS_MODULE`, with its instance in ``home``."""
    ensure_instance(home)
    server = ["dagster", "dev"] if daemon else ["dagster_webserver"]
    argv = [sys.executable, "-m", *server, "-m", DEFINITIONS_MODULE, "--host", host, "--port", str(port)]
    return UiCommand(argv, {**os.environ, "DAGSTER_HOME": str(home.resolve())})


def serve(command: UiCommand) -> NoReturn:
    """Become the Dagster process (signals such as Ctrl-C reach it directly). An ignored SIGINT
    (a shell's background job) is restored first: ``dagster dev`` stops its web server and
    daemon with it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(command.argv[0], command.argv, command.env)
