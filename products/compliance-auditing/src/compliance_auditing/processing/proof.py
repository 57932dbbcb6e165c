"""Looking for a subject everywhere a Delta table can keep it, and the signed certificate.

:func:`scan_table` checks one table location four ways:

- every readable version (time travel from the oldest version the log can rebuild to the
  newest), rows matching the erasure condition;
- the change data feed over the readable versions, change rows matching it;
- every file of ``_delta_log`` (commits, checksums, checkpoints), raw bytes and, for Parquet
  checkpoints, their decoded values: statistics keep min/max values, which can be the key;
- every other file under the location (data files, ``_change_data``, files no version
  references any more), raw bytes and decoded Parquet values (compressed pages hide text
  from a byte search, footers' statistics do not).

A token is found where :func:`~compliance_auditing.processing.erasure.token_pattern` matches:
the subject key, each keyed id, each clear id, and the 32-character prefixes Delta's statistics
truncate long strings to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compliance_auditing.processing.erasure import Subject, token_pattern

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_LOG = "_delta_log"


@dataclass(frozen=True)
class TableScan:
    """Where one table was searched and what was found (all zeros when the subject is gone)."""

    versions_scanned: list[int] = field(default_factory=list)
    versions_unreadable: list[int] = field(default_factory=list)
    version_rows: int = 0
    change_feed_rows: int = 0
    change_feed_error: str | None = None
    log_files_scanned: int = 0
    log_hits: list[str] = field(default_factory=list)
    data_files_scanned: int = 0
    data_hits: list[str] = field(default_factory=list)

    @property
    def found(self) -> int:
        return self.version_rows + self.change_feed_rows + len(self.log_hits) + len(self.data_hits)


def _values(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _values(k)
            yield from _values(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _values(v)


def file_holds(path: Path, pattern: str) -> bool:
    """Whether the file's bytes, or a Parquet file's decoded values, match ``pattern``."""
    data = path.read_bytes()
    if re.search(pattern.encode(), data):
        return True
    if not data.startswith(b"PAR1"):
        return False
    import pyarrow.parquet as pq

    compiled = re.compile(pattern)
    table = pq.read_table(path)
    return any(compiled.search(text) for row in table.to_pylist() for text in _values(row))


def _files(root: Path, *, log: bool) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and (_LOG in path.relative_to(root).parts) == log:
            yield path


def _readable_versions(location: str) -> tuple[int, int]:
    from deltalake import DeltaTable

    table = DeltaTable(location)
    newest = table.version()
    oldest = min(int(h["version"]) for h in table.history())
    return oldest, newest


def scan_files(location: str, pattern: str) -> TableScan:
    """Search every file under the table's location (log and data) for ``pattern``; pure Python.
    A version's rows are in its files, so this covers every version whose files still exist."""
    root = Path(location)
    log_files = list(_files(root, log=True))
    data_files = list(_files(root, log=False))
    return TableScan(
        log_files_scanned=len(log_files),
        log_hits=[str(p.relative_to(root)) for p in log_files if file_holds(p, pattern)],
        data_files_scanned=len(data_files),
        data_hits=[str(p.relative_to(root)) for p in data_files if file_holds(p, pattern)],
    )


def scan_table(spark: SparkSession, location: str, subject: DataFrame, condition: str | None) -> TableScan:
    """:func:`scan_files`, and through Delta every readable version's rows and the change data
    feed over them matching ``condition`` (``t``/``s`` as in
    :func:`~compliance_auditing.processing.erasure.match_condition`)."""
    from pyspark.sql import functions as F

    files = scan_files(location, _pattern(subject))
    oldest, newest = _readable_versions(location)
    scanned, unreadable = [], []
    rows = change_rows = 0
    change_error = None
    for version in range(oldest, newest + 1):
        try:
            frame = spark.read.format("delta").option("versionAsOf", version).load(location)
            if condition is None:
                frame.limit(1).count()
            else:
                rows += frame.alias("t").join(F.broadcast(subject.alias("s")), F.expr(condition)).count()
            scanned.append(version)
        except Exception:  # a version that cannot be read back is reported, not raised
            unreadable.append(version)
    if condition is not None:
        try:
            changes = (
                spark.read.format("delta")
                .option("readChangeFeed", "true")
                .option("startingVersion", oldest)
                .load(location)
            )
            change_rows = changes.alias("t").join(F.broadcast(subject.alias("s")), F.expr(condition)).count()
        except Exception as exc:  # recorded in the certificate
            change_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    return TableScan(
        versions_scanned=scanned,
        versions_unreadable=unreadable,
        version_rows=rows,
        change_feed_rows=change_rows,
        change_feed_error=change_error,
        log_files_scanned=files.log_files_scanned,
        log_hits=files.log_hits,
        data_files_scanned=files.data_files_scanned,
        data_hits=files.data_hits,
    )


def _pattern(subject: DataFrame) -> str:
    row = subject.first()
    if row is None:
        raise ValueError("the subject frame is empty")
    return search_pattern(Subject(row["subject_key"], tuple(row["linked_ids"]), tuple(row["clear_ids"])))


def search_pattern(subject: Subject) -> str:
    """What the file searches look for: every search token of the subject, as a whole token."""
    return token_pattern(subject.search_tokens)


def scan_summary(scan: TableScan) -> dict[str, Any]:
    return {**asdict(scan), "found": scan.found}


def canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sign(text: str, key: bytes) -> str:
    """HMAC-SHA256 (hex) of ``text`` under ``key``."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def signature_holds(text: str, signature: str, key: bytes) -> bool:
    return hmac.compare_digest(sign(text, key), signature)
