"""Where the infrastructure validators are: the Python ones in the project's environment, the Go
ones in .lakehouse/tools/bin, ShellCheck on the PATH (all installed by `make setup`; nothing is
fetched at test time)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = REPO / "infrastructure"
GO_TOOLS = REPO / ".lakehouse" / "tools" / "bin"


def tool(name: str) -> Path:
    """The validator ``name``; a missing one fails the test (it is part of `make setup`)."""
    for folder in (Path(sys.executable).parent, GO_TOOLS):
        if (folder / name).is_file():
            return folder / name
    found = shutil.which(name)
    if found:
        return Path(found)
    pytest.fail(f"{name} is not installed: run `make setup` (target infra-tools or the uv sync)")


def run(
    *command: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
