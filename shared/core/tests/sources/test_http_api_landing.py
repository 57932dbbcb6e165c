"""The HTTP API source against a real payments API on a local port: pages, rate limits, server
errors and late updates, landed in a Delta bronze table through delta-rs."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.serving.contracts import arrow_schema
from lakehouse_core.sources.http_api import (
    ApiAuth,
    HttpApiClient,
    HttpApiSource,
    RetryPolicy,
    SourceRefusedError,
    SourceResponseError,
    SourceUnavailableError,
)
from lakehouse_core.sources.landing import (
    ApiRecord,
    HttpSourceLanding,
    api_bronze_table,
    api_quarantine_table,
    land,
    read_high_water_mark,
)
from lakehouse_testing.payments_api import TOKEN, PaymentsState, payments_api

pytestmark = pytest.mark.integration

PATHS = {"cursor": "/v1/payments", "page": "/v2/payments"}
FAST_RETRIES = RetryPolicy(max_attempts=10, backoff_seconds=0.01, max_backoff_seconds=0.04)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENTS_API_TOKEN", TOKEN)


@pytest.fixture
def state() -> PaymentsState:
    state = PaymentsState()
    state.add(230)
    return state


@pytest.fixture
def base_url(state: PaymentsState) -> Iterator[str]:
    with payments_api(state) as url:
        yield url


def job(lake_root: str, base_url: str, pagination: str = "cursor", **overrides: object) -> HttpSourceLanding:
    source = HttpApiSource.model_validate(
        {
            "name": "payments",
            "base_url": base_url,
            "path": PATHS[pagination],
            "pagination": pagination,
            "page_size": 20,
            "subject_field": "customer.id",
            "auth": ApiAuth(env="PAYMENTS_API_TOKEN"),
            "retry": FAST_RETRIES,
            **overrides,
        }
    )
    return HttpSourceLanding(
        source=source,
        bronze=api_bronze_table("shop", "payments"),
        quarantine=api_quarantine_table("shop", "payments"),
        lake_root=lake_root,
        product="shop",
        subject_key=b"test-subject-key",
        commit_every=50,
    )


def stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def landed(landing: HttpSourceLanding) -> list[tuple[str, str]]:
    rows = read_arrow(landing.bronze.location(landing.lake_root), columns=["record_id", "updated_at"])
    return [(r["record_id"], stamp(r["updated_at"])) for r in rows.to_pylist()]


def bronze_version(landing: HttpSourceLanding) -> int:
    return int(DeltaTable(landing.bronze.location(landing.lake_root)).version())


def test_every_payment_lands_once_through_rate_limits_and_server_errors(
    lake_root: str, state: PaymentsState, base_url: str
) -> None:
    state.rate_limit_every, state.failure_rate = 4, 0.25
    landing = job(lake_root, base_url)

    report = land(landing)

    rows = landed(landing)
    assert len(rows) == len(set(rows)) == 230
    assert set(rows) == state.versions()
    assert (report.fetched, report.landed, report.quarantined) == (230, 230, 0)
    assert report.fetch.retries["429"] == state.statuses.count(429) > 0
    server_errors = sum(n for cause, n in report.fetch.retries.items() if cause.startswith("5"))
    assert server_errors == sum(1 for s in state.statuses if s >= 500) > 0
    assert report.fetch.requests == len(state.requests)
    newest = max(p["updated_at"] for p in state.payments.values())
    assert stamp(read_high_water_mark(landing.mark_location) or datetime.min) == newest
    assert report.bronze_version == bronze_version(landing) == 4  # created, then 60 + 60 + 60 + 50 rows
    table = DeltaTable(landing.bronze.location(lake_root))
    assert table.schema().to_arrow() == arrow_schema(ApiRecord)
    assert table.metadata().configuration == landing.bronze.table_properties()


@pytest.mark.parametrize("pagination", ["cursor", "page"])
def test_late_updates_land_as_new_versions_and_a_quiet_rerun_lands_nothing(
    lake_root: str, state: PaymentsState, base_url: str, pagination: str
) -> None:
    state.rate_limit_every = 5
    landing = job(lake_root, base_url, pagination)
    first = land(landing)
    assert first.landed == 230
    before = set(landed(landing))

    late = ["pay_00003", "pay_00050", "pay_00051", "pay_00120", "pay_00229"]
    for payment_id in late:
        state.update(payment_id, status="refunded")
    state.add(3)
    requests_before = len(state.requests)
    second = land(landing)

    assert second.updated_since == first.high_water_mark
    assert (
        f"updated_since={stamp(first.high_water_mark or datetime.min).replace(':', '%3A')}"
        in (state.requests[requests_before])
    )
    assert (second.fetched, second.landed) == (9, 8)  # the record at the mark is fetched again
    rows = landed(landing)
    assert len(rows) == len(set(rows)) == 238
    assert set(rows) == before | state.versions()
    assert sorted(i for i, _ in rows if i in late) == sorted(late * 2)

    version = bronze_version(landing)
    third = land(landing)
    assert (third.fetched, third.landed, third.high_water_mark) == (1, 0, second.high_water_mark)
    assert bronze_version(landing) == version


def test_a_refused_request_names_url_status_and_body_and_lands_nothing_of_its_page(
    lake_root: str, state: PaymentsState, base_url: str
) -> None:
    state.refuse_request = 3
    landing = job(lake_root, base_url)

    with pytest.raises(SourceRefusedError) as refused:
        land(landing)

    message = str(refused.value)
    assert refused.value.status == 422
    assert f"{base_url}/v1/payments?limit=20&cursor=" in message
    assert "HTTP 422" in message
    assert "invalid parameter in /v1/payments" in message
    ordered = sorted(state.payments.values(), key=lambda p: (p["updated_at"], p["id"]))
    assert set(landed(landing)) == {(p["id"], p["updated_at"]) for p in ordered[:40]}
    assert read_high_water_mark(landing.mark_location) is None

    state.refuse_request = None
    report = land(landing)
    assert (report.fetched, report.landed) == (230, 190)
    assert len(landed(landing)) == 230


def test_a_wrong_token_is_refused_at_once(lake_root: str, base_url: str, state: PaymentsState) -> None:
    landing = job(lake_root, base_url)
    with (
        HttpApiClient(landing.source, environ={"PAYMENTS_API_TOKEN": "stale"}) as client,
        pytest.raises(SourceRefusedError, match=r"HTTP 401: .*wrong bearer token"),
    ):
        land(landing, client=client)
    assert len(state.requests) == 1


def test_a_server_that_keeps_failing_exhausts_the_attempts(
    lake_root: str, state: PaymentsState, base_url: str
) -> None:
    state.failure_rate = 1.0
    landing = job(lake_root, base_url, retry=RetryPolicy(max_attempts=3, backoff_seconds=0.01))

    with pytest.raises(
        SourceUnavailableError, match=r"/v1/payments\?limit=20 failed 3 attempts; last: HTTP 5"
    ):
        land(landing)
    assert len(state.requests) == 3
    assert not Path(landing.bronze.location(lake_root)).exists()


def test_a_crash_between_the_bronze_commit_and_the_mark_lands_nothing_twice(
    lake_root: str, state: PaymentsState, base_url: str
) -> None:
    landing = job(lake_root, base_url)
    land(landing)
    mark_file = Path(landing.mark_location)
    mark_before = mark_file.read_bytes()
    for payment_id in ("pay_00010", "pay_00011"):
        state.update(payment_id, amount=1)
    state.add(4)
    assert land(landing).landed == 6
    mark_file.write_bytes(mark_before)  # the process died after the commit, before the mark
    version = bronze_version(landing)

    again = land(landing)

    assert (again.fetched, again.landed) == (7, 0)
    assert bronze_version(landing) == version
    assert len(landed(landing)) == 236


def test_invalid_records_go_to_quarantine_once_with_the_reason(
    lake_root: str, state: PaymentsState, base_url: str
) -> None:
    state.extra = [
        {"amount": 5, "updated_at": "2026-03-01T00:00:00Z"},
        {"id": "pay_bad_time", "updated_at": "yesterday"},
        {"id": "pay_naive", "updated_at": "2026-03-01T00:00:00"},
    ]
    landing = job(lake_root, base_url)

    assert land(landing).quarantined == 3
    assert land(landing).quarantined == 0

    quarantine = read_arrow(landing.quarantine.location(lake_root)).to_pylist()
    assert sorted((r["record_id"] or "", r["reason"]) for r in quarantine) == [
        ("", "no record id at 'id'"),
        ("pay_bad_time", "update time 'yesterday' is not ISO 8601 at 'updated_at'"),
        ("pay_naive", "update time '2026-03-01T00:00:00' has no UTC offset at 'updated_at'"),
    ]
    assert all(r["request_url"].startswith(f"{base_url}/v1/payments?limit=20") for r in quarantine)
    assert len(landed(landing)) == 230


@pytest.mark.parametrize("pagination", ["cursor", "page"])
def test_an_api_capping_the_page_size_still_gives_every_record(
    lake_root: str, state: PaymentsState, base_url: str, pagination: str
) -> None:
    state.max_limit = 15
    landing = job(lake_root, base_url, pagination)

    assert land(landing).landed == 230
    assert set(landed(landing)) == state.versions()


def test_an_api_ignoring_the_page_parameter_is_an_error_not_an_endless_run(
    lake_root: str, state: PaymentsState, base_url: str
) -> None:
    landing = job(lake_root, base_url, "page", page_param="p")

    with pytest.raises(SourceResponseError, match=r"p=2 answered the page before it again; .* 'p'"):
        land(landing)
    assert len(landed(landing)) == 20
    assert read_high_water_mark(landing.mark_location) is None


def test_a_column_the_contract_gained_is_added_to_an_older_bronze(
    lake_root: str, state: PaymentsState, base_url: str
) -> None:
    landing = job(lake_root, base_url)
    older = arrow_schema(ApiRecord).remove(arrow_schema(ApiRecord).get_field_index("subject_key"))
    DeltaTable.create(landing.bronze.location(lake_root), schema=older, partition_by=["ingest_date"])

    assert land(landing).landed == 230

    table = DeltaTable(landing.bronze.location(lake_root))
    assert table.schema().to_arrow().names == arrow_schema(ApiRecord).names
    assert all(r["subject_key"] for r in read_arrow(landing.bronze.location(lake_root)).to_pylist())


def test_a_lookback_catches_a_record_whose_update_time_arrives_behind_the_mark(
    lake_root: str, state: PaymentsState, base_url: str
) -> None:
    landing = job(lake_root, base_url, lookback_seconds=10)
    first = land(landing)
    mark = first.high_water_mark or datetime.min
    state.payments["pay_late"] = {
        "id": "pay_late",
        "amount": 7,
        "updated_at": stamp(mark - timedelta(seconds=5)),
    }

    second = land(landing)

    assert second.updated_since == mark - timedelta(seconds=10)
    assert (second.fetched, second.landed, second.high_water_mark) == (12, 1, mark)
    assert ("pay_late", stamp(mark - timedelta(seconds=5))) in landed(landing)
