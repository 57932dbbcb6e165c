"""The audit trail's hash chain, in plain Python: the silver job links new records with it and
``compliance-auditing verify`` recomputes it from the stored rows, so both use one definition.

A day's records form one chain in the order they were linked: ``seq`` 1, 2, ...; each link's
``record_hash`` is SHA-256 over the previous link's ``record_hash`` (:data:`GENESIS` for the
first) followed by the record's canonical JSON (:func:`canonical_json`). Changing any field of a
stored record, its hash, or the order of links changes every hash after it; removing the last
links changes the day's root (``silver.audit_chain_roots``), which verification compares too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

GENESIS = "0" * 64
#: The fields of :class:`~lakehouse_core.platform_topics.AuditRecord` a link's hash covers.
HASHED_FIELDS = (
    "record_id",
    "occurred_at",
    "service",
    "api_key_id",
    "roles",
    "action",
    "resource_type",
    "resource",
    "resource_version",
    "subject_key",
    "outcome",
    "status_code",
    "correlation_id",
    "detail",
)


def utc_text(moment: datetime) -> str:
    """``moment`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC; a naive datetime is taken as UTC
    (how Arrow and Spark hand back the lake's timestamps)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(record: Mapping[str, Any]) -> str:
    """The record's :data:`HASHED_FIELDS` as JSON with sorted keys, no spaces, UTF-8 text
    unescaped, and ``occurred_at`` as :func:`utc_text`; a missing field is null."""
    values: dict[str, Any] = {name: record.get(name) for name in HASHED_FIELDS}
    occurred = values["occurred_at"]
    if isinstance(occurred, datetime):
        values["occurred_at"] = utc_text(occurred)
    values["roles"] = list(values["roles"] or [])
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(record)).encode()).hexdigest()


@dataclass(frozen=True)
class ChainEnd:
    """The last link of a day's chain (``seq`` 0 and :data:`GENESIS` for a day not started)."""

    seq: int = 0
    record_hash: str = GENESIS


def link_order(record: Mapping[str, Any]) -> tuple[str, str]:
    """The deterministic order new records of a day are linked in: occurred_at, then record_id."""
    return utc_text(record["occurred_at"]), str(record["record_id"])


def extend_chain(records: Iterable[Mapping[str, Any]], end: ChainEnd) -> list[dict[str, Any]]:
    """``records`` of one day (not yet linked) as links appended after ``end``, in
    :func:`link_order`: each a copy of its record with ``seq``, ``prev_hash`` and ``record_hash``."""
    links = []
    seq, prev = end.seq, end.record_hash
    for record in sorted(records, key=link_order):
        seq += 1
        current = link_hash(prev, record)
        links.append({**record, "seq": seq, "prev_hash": prev, "record_hash": current})
        prev = current
    return links


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_chain` found for one day: ``broken`` is None when the chain is intact."""

    day: date
    links: int
    root_hash: str | None
    broken: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None


def _broken_link(ordered: Sequence[Mapping[str, Any]]) -> tuple[str | None, str]:
    """The first link of ``ordered`` (by seq) that does not hold and why, and the last hash."""
    prev = GENESIS
    for expected_seq, link in enumerate(ordered, start=1):
        where = f"seq {link['seq']} (record_id {link['record_id']})"
        if int(link["seq"]) != expected_seq:
            return f"{where}: expected seq {expected_seq}, a link is missing or repeated", prev
        if link["prev_hash"] != prev:
            return f"{where}: prev_hash does not match the hash of the link before it", prev
        recomputed = link_hash(prev, link)
        if link["record_hash"] != recomputed:
            return f"{where}: record_hash does not match the record (a field or the hash was changed)", prev
        prev = recomputed
    return None, prev


def _broken_root(links: int, last: str | None, root: Mapping[str, Any] | None) -> str | None:
    if root is None:
        return "the day has links but no root in silver.audit_chain_roots" if links else None
    if int(root["count"]) != links:
        return f"root: {root['count']} links recorded, {links} stored (links were removed or added)"
    if root["root_hash"] != last:
        return "root: root_hash does not match the last link's hash"
    return None


def verify_chain(
    day: date, links: Sequence[Mapping[str, Any]], root: Mapping[str, Any] | None
) -> Verification:
    """Recompute the day's chain from its stored ``links`` (any order) and compare with ``root``
    (the day's ``audit_chain_roots`` row, or None); ``broken`` names the first link that does not
    hold, and why."""
    ordered = sorted(links, key=lambda link: int(link["seq"]))
    broken, last = _broken_link(ordered)
    if broken is not None:
        return Verification(day, len(ordered), None, broken)
    root_hash = last if ordered else None
    return Verification(day, len(ordered), root_hash, _broken_root(len(ordered), root_hash, root))
