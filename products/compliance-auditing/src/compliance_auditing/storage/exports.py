"""Where access requests' exports are kept: ``<lake>/_compliance/access_exports/<request_id>/``,
owner-only, a ``manifest.json`` and one ``<table>.jsonl`` per table with rows of the person."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from lakehouse_core.tables import join_location

MANIFEST = "manifest.json"


def exports_root(lake_root: str) -> Path:
    return Path(join_location(lake_root, "_compliance", "access_exports"))


def export_dir(lake_root: str, request_id: str) -> Path:
    return exports_root(lake_root) / request_id


def export_file(table: str) -> str:
    """The file of one table's rows in an export."""
    return f"{table}.jsonl"


def read_manifest(lake_root: str, request_id: str) -> dict[str, Any] | None:
    path = export_dir(lake_root, request_id) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)


def drop_exports(lake_root: str, subject_key: str) -> int:
    """Delete every export of ``subject_key`` (part of erasing them); how many were deleted."""
    root = exports_root(lake_root)
    removed = 0
    for manifest in sorted(root.glob(f"*/{MANIFEST}")) if root.is_dir() else []:
        if json.loads(manifest.read_text()).get("subject_key") == subject_key:
            shutil.rmtree(manifest.parent)
            removed += 1
    return removed
