"""The REST API on real Delta tables written with delta-rs, through the ASGI app in process."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_testing.serving import get_ok, write_rows
from mobile_user_analytics.config import MobileConfig
from mobile_user_analytics.contracts import (
    ActiveUsers,
    AppSession,
    CrashFree,
    DeviceDimension,
    InstallCohort,
    OsAdoption,
    ScreenStats,
    ScreenTransition,
    SessionStats,
    VersionAdoption,
)
from mobile_user_analytics.serving.app import create_app
from mobile_user_analytics.storage import tables as specs

pytestmark = pytest.mark.integration

ANALYST = {API_KEY_HEADER: "analyst-key"}
DEVICE_READER = {API_KEY_HEADER: "reader-key"}
KEYS = {"analyst-key": ["analyst"], "reader-key": ["device_reader"]}

JAN1, JAN2, JAN3, JAN8 = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 8)
JAN2_MIDNIGHT = datetime(2024, 1, 2, tzinfo=UTC)
WINDOW = {"start": "2024-01-01", "end": "2024-01-02"}


def mobile_config(api_keys: dict[str, list[str]]) -> MobileConfig:
    return MobileConfig(name="mobile-user-analytics", owner="o", team="t", api_keys=api_keys)


def app_session(session_id: str, device_key: str, started: datetime, seconds: float) -> tuple[Any, ...]:
    ended = started + timedelta(seconds=seconds)
    return (
        session_id,
        device_key,
        None,
        started.date(),
        started,
        ended,
        seconds,
        5,
        2,
        "2.0",
        "ios",
        "17.2",
        False,
        f"subject-of-{device_key}",
    )


def build_lake(lake_root: str) -> None:
    write_rows(
        lake_root,
        specs.GOLD_ACTIVE_USERS,
        ActiveUsers,
        (JAN1, "all", 10, 10, 10, 1.0),
        (JAN1, "ios", 6, 6, 6, 1.0),
        (JAN1, "android", 4, 4, 4, 1.0),
        (JAN2, "all", 6, 12, 12, 0.5),
        (JAN2, "ios", 2, 7, 8, 0.25),
        (JAN8, "all", 2, 8, 16, 0.125),
    )
    write_rows(
        lake_root,
        specs.GOLD_SESSION_STATS,
        SessionStats,
        (JAN1, "all", "all", 10, 8, 1.25, 60.0, 45.0),
        (JAN1, "ios", "all", 6, 5, 1.2, 50.0, 40.0),
        (JAN1, "ios", "2.0", 4, 2, 2.0, 55.0, 50.0),
        (JAN1, "all", "2.0", 7, 5, 1.4, 58.0, 50.0),
        (JAN2, "all", "all", 3, 3, 1.0, 20.0, 20.0),
    )
    write_rows(
        lake_root,
        specs.GOLD_SCREEN_STATS,
        ScreenStats,
        (JAN1, "Home", 10, 8, 5.0, 6, 2),
        (JAN2, "Home", 6, 5, None, 3, 1),
        (JAN1, "Cart", 4, 3, 20.0, 0, 3),
        (JAN2, "Cart", 6, 6, 10.0, 1, 4),
        (JAN2, "Settings", 1, 1, None, 1, 1),
        (JAN8, "Later", 100, 100, 1.0, 100, 100),
    )
    write_rows(
        lake_root,
        specs.GOLD_SCREEN_TRANSITIONS,
        ScreenTransition,
        (JAN1, "Home", "Cart", 5),
        (JAN2, "Home", "Cart", 2),
        (JAN1, "Home", "Settings", 3),
        (JAN2, "Cart", "Home", 4),
        (JAN2, "Cart", "Checkout", 7),
        (JAN8, "Home", "Cart", 50),
    )
    write_rows(
        lake_root,
        specs.GOLD_INSTALL_COHORTS,
        InstallCohort,
        (JAN1, "ios", 10, 5, 2, 1, 0.5, 0.2, 0.1),
        (JAN1, "android", 30, 6, 3, 0, 0.2, 0.1, 0.0),
        (JAN1, "all", 40, 11, 5, 1, 0.275, 0.125, 0.025),
        (JAN2, "ios", 4, 1, 0, 0, 0.25, 0.0, 0.0),
        (JAN8, "android", 99, 9, 9, 9, 1 / 11, 1 / 11, 1 / 11),
    )
    write_rows(
        lake_root,
        specs.GOLD_VERSION_ADOPTION,
        VersionAdoption,
        (JAN1, "ios", "2.0", 6, 0.6),
        (JAN1, "ios", "1.9", 4, 0.4),
        (JAN1, "android", "1.8", 1, 0.25),
        (JAN1, "android", "2.0", 3, 0.75),
        (JAN2, "ios", "2.0", 9, 0.9),
        (JAN2, "ios", "1.9", 1, 0.1),
        (JAN2, "android", "2.0", 2, 0.5),
        (JAN2, "android", "1.8", 2, 0.5),
    )
    write_rows(
        lake_root,
        specs.GOLD_OS_ADOPTION,
        OsAdoption,
        (JAN1, "ios", "16.6", 3, 0.3),
        (JAN1, "ios", "17.2", 7, 0.7),
        (JAN1, "android", "14", 4, 1.0),
    )
    write_rows(
        lake_root,
        specs.GOLD_CRASH_FREE,
        CrashFree,
        (JAN1, "ios", "2.0", 10, 2, 0.8, 8, 1, 0.875),
        (JAN1, "android", "2.0", 30, 8, 1 - 8 / 30, 8, 3, 0.625),
        (JAN1, "ios", "1.9", 20, 0, 1.0, 10, 0, 1.0),
        (JAN2, "android", "2.0", 5, 5, 0.0, 2, 2, 0.0),
    )
    write_rows(
        lake_root,
        specs.GOLD_DEVICES,
        DeviceDimension,
        (
            *("d1", "ios", "Apple", "iPhone15,2", "17.2", "2.0"),
            *(datetime(2024, 1, 1, 8, tzinfo=UTC), datetime(2024, 1, 3, 9, 30, tzinfo=UTC), JAN1, 3, 40, 1),
        ),
        ("d2", "android", None, None, None, None, JAN2_MIDNIGHT, JAN2_MIDNIGHT, None, 1, 2, 0),
    )
    write_rows(
        lake_root,
        specs.SILVER_SESSIONS,
        AppSession,
        app_session("s1", "d1", datetime(2024, 1, 1, 9, tzinfo=UTC), 60.0),
        app_session("s2", "d1", datetime(2024, 1, 1, 18, tzinfo=UTC), 30.0),
        app_session("s3", "d1", datetime(2024, 1, 3, 7, tzinfo=UTC), 15.0),
        app_session("s4", "d2", datetime(2024, 1, 2, 7, tzinfo=UTC), 5.0),
    )


@pytest.fixture
def client(lake_root: str) -> TestClient:
    build_lake(lake_root)
    return TestClient(create_app(mobile_config(KEYS), lake_root=lake_root))


def get(client: TestClient, path: str, headers: dict[str, str] = ANALYST, **params: Any) -> Any:
    return get_ok(client, path, headers, **params)


def test_active_users_are_the_gold_rows_of_the_platform(client: TestClient) -> None:
    assert get(client, "/v1/active-users", **WINDOW) == [
        {"date": "2024-01-01", "platform": "all", "dau": 10, "wau": 10, "mau": 10, "stickiness": 1.0},
        {"date": "2024-01-02", "platform": "all", "dau": 6, "wau": 12, "mau": 12, "stickiness": 0.5},
    ]
    ios = get(client, "/v1/active-users", platform="ios", start="2024-01-01", end="2024-01-31")
    assert [(row["date"], row["dau"], row["mau"], row["stickiness"]) for row in ios] == [
        ("2024-01-01", 6, 6, 1.0),
        ("2024-01-02", 2, 8, 0.25),
    ]
    android = get(client, "/v1/active-users", platform="android", **WINDOW)
    assert [(row["date"], row["platform"], row["dau"]) for row in android] == [("2024-01-01", "android", 4)]


def test_sessions_select_platform_and_app_version_totals(client: TestClient) -> None:
    assert get(client, "/v1/sessions", **WINDOW) == [
        {
            "date": "2024-01-01",
            "platform": "all",
            "app_version": "all",
            "sessions": 10,
            "devices": 8,
            "sessions_per_device": 1.25,
            "avg_session_seconds": 60.0,
            "median_session_seconds": 45.0,
        },
        {
            "date": "2024-01-02",
            "platform": "all",
            "app_version": "all",
            "sessions": 3,
            "devices": 3,
            "sessions_per_device": 1.0,
            "avg_session_seconds": 20.0,
            "median_session_seconds": 20.0,
        },
    ]
    ios_2 = get(client, "/v1/sessions", platform="ios", app_version="2.0", **WINDOW)
    assert [(r["date"], r["sessions"], r["devices"], r["median_session_seconds"]) for r in ios_2] == [
        ("2024-01-01", 4, 2, 50.0)
    ]
    every_platform_2 = get(client, "/v1/sessions", app_version="2.0", **WINDOW)
    assert [(r["platform"], r["app_version"], r["sessions"]) for r in every_platform_2] == [("all", "2.0", 7)]
    assert get(client, "/v1/sessions", platform="android", **WINDOW) == []


def test_top_screens_aggregate_over_the_range_and_order(client: TestClient) -> None:
    assert get(client, "/v1/screens/top", **WINDOW) == {
        "items": [
            {
                "screen_name": "Home",
                "views": 16,
                "device_days": 13,
                "avg_seconds_on_screen": 5.0,
                "entries": 9,
                "exits": 3,
            },
            {
                "screen_name": "Cart",
                "views": 10,
                "device_days": 9,
                "avg_seconds_on_screen": 14.0,
                "entries": 1,
                "exits": 7,
            },
            {
                "screen_name": "Settings",
                "views": 1,
                "device_days": 1,
                "avg_seconds_on_screen": None,
                "entries": 1,
                "exits": 1,
            },
        ],
        "total": 3,
        "limit": 50,
        "offset": 0,
        "next_offset": None,
    }

    def order(by: str) -> list[str]:
        return [
            item["screen_name"] for item in get(client, "/v1/screens/top", order_by=by, **WINDOW)["items"]
        ]

    assert order("devices") == ["Home", "Cart", "Settings"]
    assert order("entries") == ["Home", "Cart", "Settings"]
    assert order("exits") == ["Cart", "Home", "Settings"]
    later = get(client, "/v1/screens/top", start="2024-01-08", end="2024-01-08")["items"]
    assert [(s["screen_name"], s["views"], s["avg_seconds_on_screen"]) for s in later] == [
        ("Later", 100, 1.0)
    ]


def test_top_screens_pagination_edges(client: TestClient) -> None:
    first = get(client, "/v1/screens/top", limit=2, **WINDOW)
    assert ([i["screen_name"] for i in first["items"]], first["total"], first["next_offset"]) == (
        ["Home", "Cart"],
        3,
        2,
    )
    last = get(client, "/v1/screens/top", limit=2, offset=2, **WINDOW)
    assert ([i["screen_name"] for i in last["items"]], last["next_offset"]) == (["Settings"], None)
    beyond = get(client, "/v1/screens/top", offset=3, **WINDOW)
    assert (beyond["items"], beyond["total"], beyond["next_offset"]) == ([], 3, None)


def test_screen_transitions_sum_over_the_range(client: TestClient) -> None:
    page = get(client, "/v1/screens/transitions", **WINDOW)
    assert page == {
        "items": [
            {"from_screen": "Cart", "to_screen": "Checkout", "transitions": 7},
            {"from_screen": "Home", "to_screen": "Cart", "transitions": 7},
            {"from_screen": "Cart", "to_screen": "Home", "transitions": 4},
            {"from_screen": "Home", "to_screen": "Settings", "transitions": 3},
        ],
        "total": 4,
        "limit": 50,
        "offset": 0,
        "next_offset": None,
    }
    from_home = get(client, "/v1/screens/transitions", from_screen="Home", limit=1, **WINDOW)
    assert (from_home["items"], from_home["total"], from_home["next_offset"]) == (
        [{"from_screen": "Home", "to_screen": "Cart", "transitions": 7}],
        2,
        1,
    )
    whole_week = get(
        client, "/v1/screens/transitions", from_screen="Home", start="2024-01-01", end="2024-01-08"
    )
    assert [(i["to_screen"], i["transitions"]) for i in whole_week["items"]] == [
        ("Cart", 57),
        ("Settings", 3),
    ]
    assert get(client, "/v1/screens/transitions", from_screen="Nowhere", **WINDOW)["total"] == 0


def test_installs_per_platform_and_summed_over_platforms(client: TestClient) -> None:
    assert get(client, "/v1/installs", **WINDOW) == [
        {
            "install_date": "2024-01-01",
            "platform": "all",
            "installs": 40,
            "retained_d1": 11,
            "retained_d7": 5,
            "retained_d30": 1,
            "retention_d1": 0.275,
            "retention_d7": 0.125,
            "retention_d30": 0.025,
        },
        {
            "install_date": "2024-01-02",
            "platform": "all",
            "installs": 4,
            "retained_d1": 1,
            "retained_d7": 0,
            "retained_d30": 0,
            "retention_d1": 0.25,
            "retention_d7": 0.0,
            "retention_d30": 0.0,
        },
    ]
    android = get(client, "/v1/installs", platform="android", start="2024-01-01", end="2024-01-31")
    assert [(r["install_date"], r["installs"], r["retained_d1"], r["retention_d1"]) for r in android] == [
        ("2024-01-01", 30, 6, 0.2),
        ("2024-01-08", 99, 9, 1 / 11),
    ]


def test_version_adoption_keeps_each_platform_and_filters(client: TestClient) -> None:
    assert get(client, "/v1/adoption/versions", start="2024-01-01", end="2024-01-01") == [
        {"date": "2024-01-01", "platform": "android", "app_version": "2.0", "devices": 3, "share": 0.75},
        {"date": "2024-01-01", "platform": "android", "app_version": "1.8", "devices": 1, "share": 0.25},
        {"date": "2024-01-01", "platform": "ios", "app_version": "2.0", "devices": 6, "share": 0.6},
        {"date": "2024-01-01", "platform": "ios", "app_version": "1.9", "devices": 4, "share": 0.4},
    ]
    ios_2 = get(client, "/v1/adoption/versions", platform="ios", app_version="2.0", **WINDOW)
    assert [(r["date"], r["devices"], r["share"]) for r in ios_2] == [
        ("2024-01-01", 6, 0.6),
        ("2024-01-02", 9, 0.9),
    ]
    android_day_2 = get(
        client, "/v1/adoption/versions", platform="android", start="2024-01-02", end="2024-01-02"
    )
    assert [(r["app_version"], r["devices"]) for r in android_day_2] == [("1.8", 2), ("2.0", 2)]


def test_os_adoption(client: TestClient) -> None:
    assert get(client, "/v1/adoption/os", **WINDOW) == [
        {"date": "2024-01-01", "platform": "android", "os_version": "14", "devices": 4, "share": 1.0},
        {"date": "2024-01-01", "platform": "ios", "os_version": "17.2", "devices": 7, "share": 0.7},
        {"date": "2024-01-01", "platform": "ios", "os_version": "16.6", "devices": 3, "share": 0.3},
    ]
    assert [r["os_version"] for r in get(client, "/v1/adoption/os", platform="ios", **WINDOW)] == [
        "17.2",
        "16.6",
    ]


def test_crash_free_summed_over_platforms_per_version(client: TestClient) -> None:
    assert get(client, "/v1/crash-free", **WINDOW) == [
        {
            "date": "2024-01-01",
            "platform": "all",
            "app_version": "2.0",
            "sessions": 40,
            "crashed_sessions": 10,
            "crash_free_sessions": 0.75,
            "devices": 16,
            "crashed_devices": 4,
            "crash_free_devices": 0.75,
        },
        {
            "date": "2024-01-01",
            "platform": "all",
            "app_version": "1.9",
            "sessions": 20,
            "crashed_sessions": 0,
            "crash_free_sessions": 1.0,
            "devices": 10,
            "crashed_devices": 0,
            "crash_free_devices": 1.0,
        },
        {
            "date": "2024-01-02",
            "platform": "all",
            "app_version": "2.0",
            "sessions": 5,
            "crashed_sessions": 5,
            "crash_free_sessions": 0.0,
            "devices": 2,
            "crashed_devices": 2,
            "crash_free_devices": 0.0,
        },
    ]
    android = get(client, "/v1/crash-free", platform="android", **WINDOW)
    assert [(r["date"], r["platform"], r["sessions"], r["crash_free_devices"]) for r in android] == [
        ("2024-01-01", "android", 30, 0.625),
        ("2024-01-02", "android", 5, 0.0),
    ]
    release = get(client, "/v1/crash-free", app_version="1.9", **WINDOW)
    assert [(r["date"], r["app_version"], r["sessions"]) for r in release] == [("2024-01-01", "1.9", 20)]
    assert get(client, "/v1/crash-free", platform="android", app_version="1.9", **WINDOW) == []


def test_device_row_and_unknown_device(client: TestClient) -> None:
    assert get(client, "/v1/devices/d1", DEVICE_READER) == {
        "device_key": "d1",
        "platform": "ios",
        "device_manufacturer": "Apple",
        "device_model": "iPhone15,2",
        "os_version": "17.2",
        "app_version": "2.0",
        "first_seen": "2024-01-01T08:00:00Z",
        "last_seen": "2024-01-03T09:30:00Z",
        "install_date": "2024-01-01",
        "sessions": 3,
        "events": 40,
        "crashes": 1,
    }
    d2 = get(client, "/v1/devices/d2", DEVICE_READER)
    assert (d2["platform"], d2["install_date"], d2["device_model"]) == ("android", None, None)
    missing = client.get("/v1/devices/d9", headers=DEVICE_READER)
    assert (missing.status_code, missing.json()) == (404, {"detail": "unknown device 'd9'"})


def test_device_sessions_newest_first_and_paginated(client: TestClient) -> None:
    window = {"start": "2024-01-01", "end": "2024-01-03"}
    first = get(client, "/v1/devices/d1/sessions", DEVICE_READER, limit=2, **window)
    assert [s["session_id"] for s in first["items"]] == ["s3", "s2"]
    assert (first["total"], first["next_offset"]) == (3, 2)
    assert first["items"][0] == {
        "session_id": "s3",
        "device_key": "d1",
        "user_key": None,
        "session_date": "2024-01-03",
        "started_at": "2024-01-03T07:00:00Z",
        "ended_at": "2024-01-03T07:00:15Z",
        "duration_seconds": 15.0,
        "events": 5,
        "screen_views": 2,
        "app_version": "2.0",
        "platform": "ios",
        "os_version": "17.2",
        "crashed": False,
    }
    second = get(client, "/v1/devices/d1/sessions", DEVICE_READER, limit=2, offset=2, **window)
    assert ([s["session_id"] for s in second["items"]], second["next_offset"]) == (["s1"], None)
    narrow = get(client, "/v1/devices/d1/sessions", DEVICE_READER, start="2024-01-02", end="2024-01-03")
    assert [s["session_id"] for s in narrow["items"]] == ["s3"]
    assert get(client, "/v1/devices/nobody/sessions", DEVICE_READER, **window)["total"] == 0


ANALYTICS_PATHS = [
    "/v1/active-users",
    "/v1/sessions",
    "/v1/screens/top",
    "/v1/screens/transitions",
    "/v1/installs",
    "/v1/adoption/versions",
    "/v1/adoption/os",
    "/v1/crash-free",
]
DEVICE_PATHS = ["/v1/devices/d1", "/v1/devices/d1/sessions"]


def test_auth_roles(client: TestClient) -> None:
    assert client.get("/v1/active-users", params=WINDOW).status_code == 401
    assert client.get("/v1/active-users", params=WINDOW, headers={API_KEY_HEADER: "nope"}).status_code == 401
    refused = client.get("/v1/active-users", params=WINDOW, headers=DEVICE_READER)
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "this API key does not have role 'analyst'"},
    )
    for path in ANALYTICS_PATHS:
        assert client.get(path, params=WINDOW, headers=DEVICE_READER).status_code == 403, path
        assert client.get(path, params=WINDOW).status_code == 401, path
    for path in DEVICE_PATHS:
        denied = client.get(path, headers=ANALYST)
        assert (denied.status_code, denied.json()) == (
            403,
            {"detail": "this API key does not have role 'device_reader'"},
        ), path
        assert client.get(path).status_code == 401, path


def test_without_keys_aggregates_are_open_and_device_data_is_refused(lake_root: str) -> None:
    build_lake(lake_root)
    client = TestClient(create_app(mobile_config({}), lake_root=lake_root))
    for path in ANALYTICS_PATHS:
        assert client.get(path, params=WINDOW).status_code == 200, path
    for path in DEVICE_PATHS:
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert "no API keys are configured" in refused.json()["detail"]


BAD_REQUESTS = [
    (
        "/v1/installs",
        {"start": "2024-01-05", "end": "2024-01-01"},
        ANALYST,
        400,
        "end (2024-01-01) is before start (2024-01-05); end must be on or after start",
    ),
    (
        "/v1/screens/top",
        {"start": "2023-01-01", "end": "2024-02-05"},
        ANALYST,
        400,
        "start (2023-01-01) to end (2024-02-05) spans 401 days; at most 400 days per request",
    ),
    ("/v1/active-users", {"platform": "windows"}, ANALYST, 422, "platform"),
    ("/v1/sessions", {"platform": "iOS"}, ANALYST, 422, "platform"),
    ("/v1/sessions", {"app_version": ""}, ANALYST, 422, "app_version"),
    ("/v1/crash-free", {"app_version": ""}, ANALYST, 422, "app_version"),
    ("/v1/adoption/os", {"platform": "other"}, ANALYST, 422, "platform"),
    ("/v1/installs", {"start": "2024-13-01"}, ANALYST, 422, "start"),
    ("/v1/screens/top", {"order_by": "crashes"}, ANALYST, 422, "order_by"),
    ("/v1/screens/transitions", {"limit": "0"}, ANALYST, 422, "limit"),
    ("/v1/screens/transitions", {"from_screen": ""}, ANALYST, 422, "from_screen"),
    ("/v1/devices/d1/sessions", {"offset": "-1"}, DEVICE_READER, 422, "offset"),
]


@pytest.mark.parametrize(("path", "params", "headers", "status", "expected"), BAD_REQUESTS)
def test_bad_requests_are_400_with_a_message_or_422_naming_the_parameter(
    client: TestClient, path: str, params: dict[str, str], headers: dict[str, str], status: int, expected: str
) -> None:
    """400: a valid value that makes no sense (the message says why); 422: a value of the wrong
    type or outside the allowed set (the error's location names the parameter)."""
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == status
    if status == 400:
        assert response.json() == {"detail": expected}
    else:
        assert [error["loc"] for error in response.json()["detail"]] == [["query", expected]]


def test_a_new_gold_commit_is_served_on_the_next_request(client: TestClient, lake_root: str) -> None:
    window = {"start": "2024-01-01", "end": "2024-01-03"}
    assert [row["date"] for row in get(client, "/v1/active-users", **window)] == ["2024-01-01", "2024-01-02"]
    assert [row["date"] for row in get(client, "/v1/active-users", **window)] == ["2024-01-01", "2024-01-02"]
    cache = client.app.state.query_cache  # type: ignore[attr-defined]
    assert (cache.hits, cache.misses) == (1, 1)

    write_rows(
        lake_root, specs.GOLD_ACTIVE_USERS, ActiveUsers, (JAN3, "all", 7, 13, 13, 7 / 13), mode="append"
    )
    assert [row["date"] for row in get(client, "/v1/active-users", **window)] == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]
    assert (cache.hits, cache.misses) == (1, 2)

    write_rows(
        lake_root, specs.GOLD_ACTIVE_USERS, ActiveUsers, (JAN2, "all", 1, 2, 4, 0.25), mode="overwrite"
    )
    assert get(client, "/v1/active-users", **window) == [
        {"date": "2024-01-02", "platform": "all", "dau": 1, "wau": 2, "mau": 4, "stickiness": 0.25}
    ]


def test_before_the_pipeline_ran_tables_answer_503_and_ready_fails(lake_root: str) -> None:
    client = TestClient(create_app(mobile_config(KEYS), lake_root=lake_root))
    response = client.get("/v1/active-users", headers=ANALYST)
    assert (response.status_code, response.headers["Retry-After"]) == (503, "60")
    assert response.json()["detail"].startswith(
        "table mobile-user-analytics.gold.active_users does not exist yet: the pipeline has not produced it."
    )
    for path in ANALYTICS_PATHS:
        assert client.get(path, headers=ANALYST).status_code == 503, path
    for path in DEVICE_PATHS:
        assert client.get(path, headers=DEVICE_READER).status_code == 503, path
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert {check["name"]: check["status"] for check in ready.json()["checks"]} == {
        "table:mobile-user-analytics.gold.active_users": "failing",
        "table:mobile-user-analytics.gold.session_stats": "failing",
        "table:mobile-user-analytics.gold.screen_stats": "failing",
        "table:mobile-user-analytics.gold.screen_transitions": "failing",
        "table:mobile-user-analytics.gold.install_cohorts": "failing",
        "table:mobile-user-analytics.gold.version_adoption": "failing",
        "table:mobile-user-analytics.gold.os_adoption": "failing",
        "table:mobile-user-analytics.gold.crash_free": "failing",
        "table:mobile-user-analytics.gold.device_dimension": "failing",
        "table:mobile-user-analytics.silver.sessions": "failing",
    }

    build_lake(lake_root)
    assert client.get("/ready").status_code == 200
    assert (
        get(client, "/v1/installs", platform="ios", start="2024-01-02", end="2024-01-02")[0]["installs"] == 4
    )


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/health").json() == {
        "status": "ok",
        "service": "mobile-user-analytics",
        "version": "0.1.0",
    }
    client.get("/v1/crash-free", params=WINDOW, headers=ANALYST)
    client.get("/v1/crash-free", params=WINDOW)
    metrics = client.get("/metrics").text
    prefix = 'lakehouse_http_requests_total{method="GET",route="/v1/crash-free"'
    assert f'{prefix},status="200"}} 1.0' in metrics
    assert f'{prefix},status="401"}} 1.0' in metrics
