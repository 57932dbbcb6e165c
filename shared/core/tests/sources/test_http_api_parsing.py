"""The pure parts of the HTTP API source: retry waits, update times, record validation, config."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import ValidationError

from lakehouse_core.errors import ConfigError
from lakehouse_core.privacy import subject_key_of
from lakehouse_core.sources.http_api import (
    ApiAuth,
    HttpApiClient,
    HttpApiSource,
    RetryPolicy,
    backoff_seconds,
    retry_after_seconds,
)
from lakehouse_core.sources.landing import parse_updated_at, sort_records

pytestmark = pytest.mark.unit

KEY = b"test-subject-key"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def source(**overrides: object) -> HttpApiSource:
    settings: dict[str, object] = {
        "name": "payments",
        "base_url": "http://127.0.0.1:1",
        "path": "/v1/payments",
        "pagination": "cursor",
        "subject_field": "customer.id",
    }
    return HttpApiSource.model_validate({**settings, **overrides})


def test_retry_after_as_seconds_or_an_http_date() -> None:
    assert retry_after_seconds("0.1") == 0.1
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds(format_datetime(NOW + timedelta(seconds=7), usegmt=True), now=NOW) == 7.0
    assert retry_after_seconds(format_datetime(NOW - timedelta(seconds=7), usegmt=True), now=NOW) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_backoff_doubles_up_to_its_ceiling_with_full_jitter() -> None:
    policy = RetryPolicy(backoff_seconds=0.5, max_backoff_seconds=3.0)
    assert [backoff_seconds(n, policy, draw=lambda: 1.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff_seconds(4, policy, draw=lambda: 0.25) == 0.75
    assert backoff_seconds(4, policy, draw=lambda: 0.0) == 0.0


def test_update_times_with_an_offset_or_as_epoch_seconds_and_why_others_are_not() -> None:
    assert parse_updated_at("2026-03-01T12:00:00Z") == NOW
    assert parse_updated_at("2026-03-01T13:00:00+01:00") == NOW
    assert parse_updated_at(int(NOW.timestamp())) == NOW
    assert parse_updated_at("2026-03-01T12:00:00") == "update time '2026-03-01T12:00:00' has no UTC offset"
    assert parse_updated_at("yesterday") == "update time 'yesterday' is not ISO 8601"
    assert parse_updated_at(None) == "no update time"
    assert parse_updated_at(True) == "update time True is not a time"
    assert parse_updated_at(10**20) == f"update time {10**20} is out of range"


def test_records_without_an_id_or_a_readable_update_time_are_quarantined_with_the_reason() -> None:
    records = [
        {"id": "pay_1", "updated_at": "2026-03-01T12:00:00Z", "customer": {"id": "user-1"}},
        {"id": 7, "updated_at": 1772366400},
        {"updated_at": "2026-03-01T12:00:00Z", "customer": {"id": "user-2"}},
        {"id": "  ", "updated_at": "2026-03-01T12:00:00Z"},
        {"id": "pay_3", "updated_at": "2026-03-01"},
        ["not", "an", "object"],
    ]
    rows = sort_records(
        records, source(), request_url="http://api/p?limit=2", fetched_at=NOW, subject_key=KEY
    )

    assert [(r["record_id"], r["updated_at"], r["subject_key"]) for r in rows.bronze] == [
        ("pay_1", NOW, subject_key_of("user-1", KEY)),
        ("7", NOW, None),
    ]
    assert [(r["record_id"], r["reason"], r["subject_key"]) for r in rows.quarantine] == [
        (None, "no record id at 'id'", subject_key_of("user-2", KEY)),
        (None, "no record id at 'id'", None),
        ("pay_3", "update time '2026-03-01' has no UTC offset at 'updated_at'", None),
        (None, "not a JSON object", None),
    ]
    assert rows.quarantine[-1]["payload"] == '["not","an","object"]'
    assert {r["request_url"] for r in rows.bronze + rows.quarantine} == {"http://api/p?limit=2"}
    assert len({r["payload_sha256"] for r in rows.quarantine}) == 4


def test_a_credential_comes_from_the_environment_and_its_absence_is_named() -> None:
    with_auth = source(auth=ApiAuth(env="PAYMENTS_API_TOKEN"))
    with pytest.raises(ConfigError, match="payments: PAYMENTS_API_TOKEN is not set"):
        HttpApiClient(with_auth, environ={})
    with HttpApiClient(with_auth, environ={"PAYMENTS_API_TOKEN": "t0k"}) as client:
        assert client._http.headers["Authorization"] == "Bearer t0k"


def test_a_source_refuses_unknown_settings_and_bad_names() -> None:
    with pytest.raises(ValidationError, match="page_sise"):
        source(page_sise=10)
    with pytest.raises(ValidationError, match="name"):
        source(name="Payments API")
    with pytest.raises(ValidationError, match="pagination"):
        source(pagination="offset")
