"""What the backup needs to know of a Delta table's files: which belong to the log and to which
version, which may be copied (immutable) and which not, and when each version was committed."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

LOG_DIR = "_delta_log"
SIDECARS = f"{LOG_DIR}/_sidecars/"
_COMMIT = re.compile(r"^(\d{20})\.json$")
_COMPACTED = re.compile(r"^\d{20}\.(\d{20})\.compacted\.json$")
_VERSIONED = re.compile(r"^(\d{20})\.(?:checkpoint\b.*\.parquet|crc)$")


def commit_name(version: int) -> str:
    return f"{LOG_DIR}/{version:020d}.json"


def log_version(relative: str) -> int | None:
    """The version a file of the log belongs to (the last one, for a compacted range); None for
    a file outside the log's versioned files (data, sidecars, ``_last_checkpoint``)."""
    if not relative.startswith(f"{LOG_DIR}/") or relative.startswith(SIDECARS):
        return None
    name = relative.removeprefix(f"{LOG_DIR}/")
    match = _COMMIT.match(name) or _COMPACTED.match(name) or _VERSIONED.match(name)
    return int(match.group(1)) if match else None


def is_commit(relative: str) -> bool:
    return relative.startswith(f"{LOG_DIR}/") and bool(_COMMIT.match(relative.removeprefix(f"{LOG_DIR}/")))


def is_copied(relative: str, *, up_to: int) -> bool:
    """Whether a backup of the table at version ``up_to`` copies the file at ``relative``.

    Hidden files (Hadoop's ``.crc`` checksums, writers' temporary files) and ``_last_checkpoint``
    (rewritten in place; readers find the checkpoint by listing the log without it) are left out;
    log files of versions after ``up_to`` wait for the next backup.
    """
    parts = relative.split("/")
    if any(part.startswith(".") for part in parts):
        return False
    if relative.startswith(SIDECARS):
        return True
    if parts[0] != LOG_DIR:
        return True
    version = log_version(relative)
    return version is not None and version <= up_to


def walk(root: Path) -> dict[str, int]:
    """Every file under ``root`` by its relative path (``/`` separated), with its size."""
    return {
        path.relative_to(root).as_posix(): path.stat().st_size for path in root.rglob("*") if path.is_file()
    }


def _actions(commit: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in commit.read_text(encoding="utf-8").splitlines() if line.strip()]


def commit_time(commit: Path) -> datetime:
    """When the commit was made: its in-commit timestamp or commitInfo's, else the file's mtime
    (what Delta's own time travel falls back to)."""
    for action in _actions(commit):
        info = action.get("commitInfo")
        if isinstance(info, dict):
            stamp = info.get("inCommitTimestamp", info.get("timestamp"))
            if isinstance(stamp, int):
                return datetime.fromtimestamp(stamp / 1000, tz=UTC)
    return datetime.fromtimestamp(commit.stat().st_mtime, tz=UTC)


def files_added(commit: Path) -> set[str]:
    """The data and change-data files a commit adds, as relative paths."""
    added: set[str] = set()
    for action in _actions(commit):
        for kind in ("add", "cdc"):
            body = action.get(kind)
            if isinstance(body, dict) and isinstance(body.get("path"), str):
                added.add(unquote(str(body["path"])))
    return added


def restorable(log_files: set[str], version: int) -> bool:
    """Whether the log files hold what a reader needs for ``version``: every commit from version
    0, or from the newest checkpoint at or before it, up to ``version``."""
    checkpoints = [
        v
        for f in log_files
        if (v := log_version(f)) is not None
        and v <= version
        and ".checkpoint" in f
        and f.endswith(".parquet")
    ]
    start = max(checkpoints) + 1 if checkpoints else 0
    return all(commit_name(v) in log_files for v in range(start, version + 1))
