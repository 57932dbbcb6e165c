"""The gateway's API keys: one JSON file of key records under the platform's state directory.

A key is shown once, when it is made; the file keeps only its SHA-256 digest, with its owner,
roles, creation and expiry dates, revoked flag and quotas. The store answers
:class:`~lakehouse_core.serving.auth.ApiKeys`, so the products' own ``require_role`` guards read
it directly once it is installed on their apps. The file is read again whenever it changes on
disk, so a key revoked by ``lakehouse admin keys revoke`` is refused by a running gateway at
once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from lakehouse_core.errors import LakehouseError

KEY_PREFIX = "lhk_"

KeyState = Literal["active", "expired", "revoked", "unknown"]


class KeyStoreError(LakehouseError):
    """The key file cannot be read or written, or a key cannot be made or changed as asked."""


class UnknownKeyError(KeyStoreError):
    """No key has this id."""


def digest(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(frozen=True)
class Quota:
    """Requests a key may make per minute and per UTC day; None: no limit."""

    per_minute: int | None = None
    per_day: int | None = None


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    owner: str
    roles: frozenset[str]
    created_at: datetime
    expires_at: datetime
    sha256: str
    revoked: bool = False
    quota: Quota = field(default_factory=Quota)

    def state(self, now: datetime) -> KeyState:
        if self.revoked:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"

    def public(self, now: datetime) -> dict[str, Any]:
        """The record as ``list`` shows it: everything but the digest."""
        return {
            "key_id": self.key_id,
            "owner": self.owner,
            "roles": sorted(self.roles),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked": self.revoked,
            "state": self.state(now),
            "requests_per_minute": self.quota.per_minute,
            "requests_per_day": self.quota.per_day,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["roles"] = sorted(self.roles)
        data["created_at"] = self.created_at.isoformat()
        data["expires_at"] = self.expires_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> KeyRecord:
        return cls(
            key_id=str(data["key_id"]),
            owner=str(data["owner"]),
            roles=frozenset(data["roles"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            sha256=str(data["sha256"]),
            revoked=bool(data["revoked"]),
            quota=Quota(**data.get("quota", {})),
        )


@dataclass(frozen=True)
class Lookup:
    """What a presented key is: its record (None when unknown) and its state now."""

    record: KeyRecord | None
    state: KeyState


@dataclass(frozen=True)
class IssuedKey:
    """A new key: the secret (shown once, never stored) and its record."""

    secret: str
    record: KeyRecord


class KeyStore:
    """The key file at ``path``; thread-safe, and safe against other processes changing it (each
    change under a file lock replaces the file atomically, each read follows the newest file)."""

    def __init__(self, path: Path, *, clock: Any = utc_now) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._by_id: dict[str, KeyRecord] = {}
        self._by_digest: dict[str, KeyRecord] = {}

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _load(self) -> None:
        stamp = self._stamp()
        if stamp == self._seen:
            return
        records: list[KeyRecord] = []
        if stamp is not None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                records = [KeyRecord.from_json(item) for item in data["keys"]]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise KeyStoreError(f"{self.path}: not a readable key file: {exc}") from exc
        self._by_id = {r.key_id: r for r in records}
        self._by_digest = {r.sha256: r for r in records}
        self._seen = stamp

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Hold this store's lock and the file's (``flock`` on ``<file>.lock``), with the newest
        file loaded: two processes changing keys at once (the CLI and ``/admin``) lose neither."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.with_name(f"{self.path.name}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._seen = None
            self._load()
            yield

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"keys": [r.to_json() for r in self._by_id.values()]}, indent=2)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        partial.write_text(body, encoding="utf-8")
        partial.chmod(0o600)
        partial.replace(self.path)
        self._seen = None
        self._load()

    def records(self) -> list[KeyRecord]:
        with self._lock:
            self._load()
            return sorted(self._by_id.values(), key=lambda r: r.created_at)

    def lookup(self, presented: str) -> Lookup:
        with self._lock:
            self._load()
            record = self._by_digest.get(digest(presented))
        if record is None:
            return Lookup(None, "unknown")
        return Lookup(record, record.state(self._clock()))

    @property
    def configured(self) -> bool:
        with self._lock:
            self._load()
            return bool(self._by_id)

    def roles_of(self, presented: str) -> frozenset[str] | None:
        found = self.lookup(presented)
        return found.record.roles if found.record is not None and found.state == "active" else None

    def get(self, key_id: str) -> KeyRecord:
        with self._lock:
            self._load()
            record = self._by_id.get(key_id)
        if record is None:
            raise UnknownKeyError(f"no API key {key_id!r}; `lakehouse admin keys list` shows them")
        return record

    def create(
        self, *, owner: str, roles: Iterable[str], valid_for: timedelta, quota: Quota = Quota()
    ) -> IssuedKey:
        if not owner.strip():
            raise KeyStoreError("a key needs an owner")
        if valid_for <= timedelta(0):
            raise KeyStoreError("a key must be valid for a positive time")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        now = self._clock()
        record = KeyRecord(
            key_id=secrets.token_hex(6),
            owner=owner.strip(),
            roles=frozenset(roles),
            created_at=now,
            expires_at=now + valid_for,
            sha256=digest(secret),
            quota=quota,
        )
        with self._changing():
            self._by_id[record.key_id] = record
            self._save()
        return IssuedKey(secret, record)

    def revoke(self, key_id: str) -> KeyRecord:
        with self._changing():
            if key_id not in self._by_id:
                raise UnknownKeyError(f"no API key {key_id!r}; `lakehouse admin keys list` shows them")
            record = self._by_id[key_id] = replace(self._by_id[key_id], revoked=True)
            self._save()
        return record

    def rotate(self, key_id: str) -> tuple[KeyRecord, IssuedKey]:
        """Revoke ``key_id`` and issue a key with its owner, roles, quota and remaining validity
        (at least a day)."""
        old = self.get(key_id)
        if old.revoked:
            raise KeyStoreError(f"API key {key_id} is revoked; create a new one instead")
        remaining = max(old.expires_at - self._clock(), timedelta(days=1))
        issued = self.create(owner=old.owner, roles=old.roles, valid_for=remaining, quota=old.quota)
        return self.revoke(key_id), issued
