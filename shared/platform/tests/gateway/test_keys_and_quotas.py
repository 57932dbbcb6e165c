"""Unit tests of the key store, key administration (with its audit records) and the quota counter."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse_core.platform_topics import AuditRecord
from lakehouse_core.serving.auth import ApiKeys
from lakehouse_platform.gateway.admin import KeyAdmin
from lakehouse_platform.gateway.config import load_gateway_config
from lakehouse_platform.gateway.keys import KeyStore, KeyStoreError, Quota, UnknownKeyError, digest
from lakehouse_platform.gateway.quotas import QuotaCounter

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 4, 10, 0, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_a_key_is_stored_only_as_its_digest_and_answers_the_guards_protocol(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    assert not store.configured
    issued = store.create(owner="ana", roles=["analyst"], valid_for=timedelta(days=1))
    text = (tmp_path / "keys.json").read_text()
    assert issued.secret not in text
    assert digest(issued.secret) in text
    assert isinstance(store, ApiKeys)
    assert store.configured
    assert store.roles_of(issued.secret) == frozenset({"analyst"})
    assert store.roles_of(issued.secret + "x") is None


def test_expired_revoked_and_rotated_keys_are_refused(tmp_path: Path) -> None:
    clock = Clock()
    store = KeyStore(tmp_path / "keys.json", clock=clock)
    short = store.create(owner="o", roles=["analyst"], valid_for=timedelta(hours=1))
    kept = store.create(owner="o", roles=["auditor"], valid_for=timedelta(days=10))
    clock.now = NOW + timedelta(hours=1)
    assert store.lookup(short.secret).state == "expired"
    assert store.roles_of(short.secret) is None

    old, new = store.rotate(kept.record.key_id)
    assert old.revoked
    assert store.lookup(kept.secret).state == "revoked"
    assert store.roles_of(new.secret) == frozenset({"auditor"})
    assert new.record.expires_at == kept.record.expires_at
    with pytest.raises(KeyStoreError, match="is revoked"):
        store.rotate(kept.record.key_id)
    with pytest.raises(UnknownKeyError):
        store.revoke("feedbeef")


def test_a_second_store_on_the_same_file_sees_a_revocation_at_once(tmp_path: Path) -> None:
    serving = KeyStore(tmp_path / "keys.json")
    issued = serving.create(owner="o", roles=["analyst"], valid_for=timedelta(days=1))
    assert serving.roles_of(issued.secret) is not None
    KeyStore(tmp_path / "keys.json").revoke(issued.record.key_id)
    assert serving.lookup(issued.secret).state == "revoked"


def test_stores_of_two_processes_creating_keys_at_once_lose_none(tmp_path: Path) -> None:
    stores = [KeyStore(tmp_path / "keys.json") for _ in range(4)]

    def create(store: KeyStore) -> None:
        for _ in range(10):
            store.create(owner="o", roles=["analyst"], valid_for=timedelta(days=1))

    threads = [threading.Thread(target=create, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(KeyStore(tmp_path / "keys.json").records()) == 40


def test_every_key_change_is_one_audit_record_naming_the_key_never_its_secret(tmp_path: Path) -> None:
    records: list[AuditRecord] = []
    admin = KeyAdmin(KeyStore(tmp_path / "keys.json"), load_gateway_config(), records.append)
    issued = admin.create(owner="ana", roles=["analyst", "user_reader"], actor="fp")
    rotated = admin.rotate(issued.record.key_id)
    admin.revoke(rotated.record.key_id)
    assert [(r.action, r.resource_type, r.resource) for r in records] == [
        ("key_management", "api_key", issued.record.key_id),
        ("key_management", "api_key", issued.record.key_id),
        ("key_management", "api_key", rotated.record.key_id),
        ("key_management", "api_key", rotated.record.key_id),
    ]
    assert records[0].api_key_id == "fp"
    assert [r.detail.split()[0] for r in records if r.detail] == ["created", "rotated", "created", "revoked"]
    assert all(issued.secret not in r.model_dump_json() for r in records)
    with pytest.raises(KeyStoreError, match="unknown roles superuser"):
        admin.create(owner="x", roles=["superuser"])
    assert len(records) == 4


def test_quota_admits_exactly_the_limit_under_concurrent_requests() -> None:
    counter = QuotaCounter()
    quota = Quota(per_minute=37, per_day=1000)
    answers: list[int | None] = []
    lock = threading.Lock()

    def ask() -> None:
        for _ in range(10):
            answer = counter.admit("k", quota, NOW)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(None) == 37
    assert set(answers) - {None} == {30}


def test_quota_windows_end_and_the_day_limit_holds_across_minutes() -> None:
    counter = QuotaCounter()
    quota = Quota(per_minute=2, per_day=3)
    assert counter.admit("k", quota, NOW) is None
    assert counter.admit("k", quota, NOW) is None
    assert counter.admit("k", quota, NOW) == 30
    assert counter.admit("other", quota, NOW) is None
    later = NOW + timedelta(minutes=1)
    assert counter.admit("k", quota, later) is None
    assert counter.admit("k", quota, later) == 13 * 3600 + 58 * 60 + 30
    assert counter.admit("k", quota, NOW + timedelta(days=1)) is None
