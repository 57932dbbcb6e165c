"""The REST API on real Delta tables written with delta-rs, through the ASGI app in process."""

from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa
import pytest
from deltalake import write_deltalake
from fastapi.testclient import TestClient
from pydantic import BaseModel

from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_core.serving.contracts import arrow_schema
from lakehouse_core.tables import TableSpec
from web_user_analytics.config import FunnelConfig, WebConfig
from web_user_analytics.contracts import (
    Acquisition,
    DailyTraffic,
    FunnelStep,
    PageStats,
    RetentionCohort,
    UserDimension,
    WebSession,
)
from web_user_analytics.serving.app import create_app
from web_user_analytics.storage.tables import (
    GOLD_ACQUISITION,
    GOLD_DAILY_TRAFFIC,
    GOLD_FUNNEL_STEPS,
    GOLD_PAGE_STATS,
    GOLD_RETENTION,
    GOLD_USERS,
    SILVER_SESSIONS,
)

pytestmark = pytest.mark.integration

ANALYST = {API_KEY_HEADER: "analyst-key"}
USER_READER = {API_KEY_HEADER: "reader-key"}
SIGNUP = FunnelConfig(name="signup", steps=["/", "/pricing", "/signup", "Signed Up"])
CHECKOUT = FunnelConfig(name="checkout", steps=["Product Viewed", "Order Completed"])
PLANS = FunnelConfig(name="plans", steps=[["/pricing", "/plans"], "/signup"], window_minutes=90)


def web_config(api_keys: dict[str, list[str]]) -> WebConfig:
    return WebConfig(
        name="web-user-analytics", owner="o", team="t", funnels=[SIGNUP, CHECKOUT, PLANS], api_keys=api_keys
    )


KEYS = {"analyst-key": ["analyst"], "reader-key": ["user_reader"]}


def write(lake_root: str, spec: TableSpec, model: type[BaseModel], *rows: tuple[Any, ...], **kw: Any) -> None:
    """Writes ``rows`` (values in the contract's field order) as a Delta commit to ``spec``'s table."""
    records = [dict(zip(model.model_fields, row, strict=True)) for row in rows]
    table = pa.Table.from_pylist(records, schema=arrow_schema(model))
    write_deltalake(spec.location(lake_root), table, partition_by=list(spec.partition_by) or None, **kw)


def session(session_id: str, visitor: str, started: datetime, seconds: float) -> tuple[Any, ...]:
    return (
        *(session_id, visitor, started.date(), started, started, seconds, 2, 1, "/", None, True),
        *("(direct)", "(none)", "(not set)", None, "desktop", None, None, "DE"),
        f"subject-of-{visitor}",
    )


JAN1, JAN2, JAN3, JAN8 = date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 8)
#: Written into funnel rows to show the API recomputes conversions instead of reading them.
STORED_CONVERSION = -1.0


def build_lake(lake_root: str) -> None:
    write(
        lake_root,
        GOLD_DAILY_TRAFFIC,
        DailyTraffic,
        (JAN1, "all", "all", 10, 20, 50, 0.5, 100.0),
        (JAN2, "all", "all", 5, 5, 10, 0.0, 40.0),
        (JAN8, "all", "all", 4, 10, 30, 0.2, 60.0),
        (date(2024, 2, 1), "all", "all", 1, 0, 0, 0.0, 0.0),
        (JAN1, "mobile", "DE", 2, 3, 4, 1.0, 10.0),
    )
    write(
        lake_root,
        GOLD_PAGE_STATS,
        PageStats,
        (JAN1, "/", 10, 8, 6, 2, 30.0),
        (JAN2, "/", 5, 5, 1, 4, None),
        (JAN1, "/pricing", 8, 3, 0, 5, 20.0),
        (JAN2, "/pricing", 2, 2, 9, 1, 50.0),
        (JAN2, "/signup", 1, 1, 0, 0, None),
        (JAN8, "/later", 100, 100, 100, 100, 1.0),
    )
    write(
        lake_root,
        GOLD_ACQUISITION,
        Acquisition,
        (JAN1, "google", "organic", "(not set)", "www.google.com", 10, 8, 20, 0.5),
        (JAN2, "google", "cpc", "spring", "www.google.com", 30, 20, 60, 0.1),
        (JAN1, "(direct)", "(none)", "(not set)", "", 5, 5, 5, 1.0),
        (JAN8, "bing", "organic", "(not set)", "www.bing.com", 99, 99, 99, 0.0),
    )
    write(
        lake_root,
        GOLD_FUNNEL_STEPS,
        FunnelStep,
        *(
            (day, funnel, index, name, sessions, STORED_CONVERSION, STORED_CONVERSION)
            for day, funnel, index, name, sessions in [
                (JAN1, "signup", 1, "/", 100),
                (JAN1, "signup", 2, "/pricing", 40),
                (JAN1, "signup", 3, "/signup", 10),
                (JAN2, "signup", 1, "/", 100),
                (JAN2, "signup", 2, "/pricing", 60),
                (JAN2, "signup", 2, "/plans", 7),
                (JAN2, "signup", 3, "/signup", 10),
                (JAN2, "signup", 4, "Signed Up", 5),
                (JAN1, "checkout", 1, "Product Viewed", 999),
                (JAN2, "plans", 1, "/pricing | /plans", 30),
                (JAN2, "plans", 1, "/pricing", 1000),
                (JAN2, "plans", 2, "/signup", 6),
            ]
        ),
    )
    write(
        lake_root,
        GOLD_RETENTION,
        RetentionCohort,
        (JAN8, 0, 4, 4, 1.0),
        (JAN1, 1, 8, 2, 0.25),
        (JAN1, 0, 8, 8, 1.0),
        (date(2024, 1, 15), 0, 1, 1, 1.0),
    )
    write(lake_root, GOLD_USERS, UserDimension)
    write(
        lake_root,
        SILVER_SESSIONS,
        WebSession,
        session("s1", "v1", datetime(2024, 1, 1, 9, tzinfo=UTC), 60.0),
        session("s2", "v1", datetime(2024, 1, 1, 18, tzinfo=UTC), 30.0),
        session("s3", "v1", datetime(2024, 1, 3, 7, tzinfo=UTC), 15.0),
        session("s4", "v2", datetime(2024, 1, 2, 7, tzinfo=UTC), 5.0),
    )


@pytest.fixture
def client(lake_root: str) -> TestClient:
    build_lake(lake_root)
    return TestClient(create_app(web_config(KEYS), lake_root=lake_root))


def get(client: TestClient, path: str, headers: dict[str, str] = ANALYST, **params: Any) -> Any:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_traffic_per_day_is_the_gold_rows(client: TestClient) -> None:
    assert get(client, "/v1/traffic", start="2024-01-01", end="2024-01-02") == [
        {
            "date": "2024-01-01",
            "device_type": "all",
            "country": "all",
            "visitors": 10,
            "sessions": 20,
            "page_views": 50,
            "bounce_rate": 0.5,
            "avg_session_duration_seconds": 100.0,
        },
        {
            "date": "2024-01-02",
            "device_type": "all",
            "country": "all",
            "visitors": 5,
            "sessions": 5,
            "page_views": 10,
            "bounce_rate": 0.0,
            "avg_session_duration_seconds": 40.0,
        },
    ]
    mobile = get(
        client, "/v1/traffic", start="2024-01-01", end="2024-01-31", device_type="mobile", country="DE"
    )
    assert [(row["date"], row["visitors"], row["sessions"]) for row in mobile] == [("2024-01-01", 2, 3)]


def test_traffic_per_week_sums_and_weights_by_sessions(client: TestClient) -> None:
    assert get(client, "/v1/traffic", start="2024-01-01", end="2024-01-10", granularity="week") == [
        {
            "period_start": "2024-01-01",
            "device_type": "all",
            "country": "all",
            "visitor_days": 15,
            "sessions": 25,
            "page_views": 60,
            "bounce_rate": 0.4,
            "avg_session_duration_seconds": 88.0,
        },
        {
            "period_start": "2024-01-08",
            "device_type": "all",
            "country": "all",
            "visitor_days": 4,
            "sessions": 10,
            "page_views": 30,
            "bounce_rate": 0.2,
            "avg_session_duration_seconds": 60.0,
        },
    ]


def test_traffic_per_month_starts_on_the_first_and_survives_zero_sessions(client: TestClient) -> None:
    months = get(client, "/v1/traffic", start="2024-01-02", end="2024-02-29", granularity="month")
    assert [(m["period_start"], m["visitor_days"], m["sessions"], m["page_views"]) for m in months] == [
        ("2024-01-01", 9, 15, 40),
        ("2024-02-01", 1, 0, 0),
    ]
    assert months[0]["bounce_rate"] == pytest.approx(2 / 15)
    assert months[0]["avg_session_duration_seconds"] == pytest.approx((40 * 5 + 60 * 10) / 15)
    assert (months[1]["bounce_rate"], months[1]["avg_session_duration_seconds"]) == (0.0, 0.0)


def test_top_pages_aggregate_over_the_range_and_order(client: TestClient) -> None:
    page = get(client, "/v1/pages/top", start="2024-01-01", end="2024-01-02")
    assert page == {
        "items": [
            {
                "page_path": "/",
                "views": 15,
                "visitor_days": 13,
                "entrances": 7,
                "exits": 6,
                "avg_time_on_page_seconds": 30.0,
            },
            {
                "page_path": "/pricing",
                "views": 10,
                "visitor_days": 5,
                "entrances": 9,
                "exits": 6,
                "avg_time_on_page_seconds": 27.5,
            },
            {
                "page_path": "/signup",
                "views": 1,
                "visitor_days": 1,
                "entrances": 0,
                "exits": 0,
                "avg_time_on_page_seconds": None,
            },
        ],
        "total": 3,
        "limit": 50,
        "offset": 0,
        "next_offset": None,
    }

    def order(by: str) -> list[str]:
        items = get(client, "/v1/pages/top", start="2024-01-01", end="2024-01-02", order_by=by)["items"]
        return [item["page_path"] for item in items]

    assert order("entrances") == ["/pricing", "/", "/signup"]
    assert order("exits") == ["/", "/pricing", "/signup"]
    assert order("unique_visitors") == ["/", "/pricing", "/signup"]


def test_top_pages_pagination_edges(client: TestClient) -> None:
    first = get(client, "/v1/pages/top", start="2024-01-01", end="2024-01-02", limit=2)
    assert ([i["page_path"] for i in first["items"]], first["total"], first["next_offset"]) == (
        ["/", "/pricing"],
        3,
        2,
    )
    last = get(client, "/v1/pages/top", start="2024-01-01", end="2024-01-02", limit=2, offset=2)
    assert ([i["page_path"] for i in last["items"]], last["next_offset"]) == (["/signup"], None)
    beyond = get(client, "/v1/pages/top", start="2024-01-01", end="2024-01-02", offset=3)
    assert (beyond["items"], beyond["total"], beyond["next_offset"]) == ([], 3, None)


def test_acquisition_groups(client: TestClient) -> None:
    by_source = get(client, "/v1/acquisition", start="2024-01-01", end="2024-01-02")
    assert by_source == {
        "items": [
            {"group": "google", "sessions": 40, "visitor_days": 28, "page_views": 80, "bounce_rate": 0.2},
            {"group": "(direct)", "sessions": 5, "visitor_days": 5, "page_views": 5, "bounce_rate": 1.0},
        ],
        "total": 2,
        "limit": 50,
        "offset": 0,
        "next_offset": None,
    }
    by_medium = get(client, "/v1/acquisition", start="2024-01-01", end="2024-01-02", group_by="medium")
    assert [(g["group"], g["sessions"]) for g in by_medium["items"]] == [
        ("cpc", 30),
        ("organic", 10),
        ("(none)", 5),
    ]
    by_campaign = get(
        client, "/v1/acquisition", start="2024-01-01", end="2024-01-02", group_by="campaign", limit=1
    )
    assert (by_campaign["items"][0]["group"], by_campaign["next_offset"]) == ("spring", 1)
    not_set = get(
        client, "/v1/acquisition", start="2024-01-01", end="2024-01-02", group_by="campaign", offset=1
    )
    assert not_set["items"][0]["bounce_rate"] == pytest.approx(10 / 15)
    by_host = get(client, "/v1/acquisition", start="2024-01-01", end="2024-01-08", group_by="referrer_host")
    assert [(g["group"], g["sessions"]) for g in by_host["items"]] == [
        ("www.bing.com", 99),
        ("www.google.com", 40),
        ("", 5),
    ]


def test_funnels_list_and_report(client: TestClient) -> None:
    assert get(client, "/v1/funnels") == [
        {
            "name": "signup",
            "steps": [["/"], ["/pricing"], ["/signup"], ["Signed Up"]],
            "window_minutes": None,
        },
        {"name": "checkout", "steps": [["Product Viewed"], ["Order Completed"]], "window_minutes": None},
        {"name": "plans", "steps": [["/pricing", "/plans"], ["/signup"]], "window_minutes": 90},
    ]
    report = get(client, "/v1/funnels/signup", start="2024-01-01", end="2024-01-02")
    assert report == {
        "funnel": "signup",
        "start": "2024-01-01",
        "end": "2024-01-02",
        "window_minutes": None,
        "steps": [
            {
                "step_index": 1,
                "step_name": "/",
                "alternatives": ["/"],
                "sessions": 200,
                "conversion_from_start": 1.0,
                "conversion_from_previous": 1.0,
            },
            {
                "step_index": 2,
                "step_name": "/pricing",
                "alternatives": ["/pricing"],
                "sessions": 100,
                "conversion_from_start": 0.5,
                "conversion_from_previous": 0.5,
            },
            {
                "step_index": 3,
                "step_name": "/signup",
                "alternatives": ["/signup"],
                "sessions": 20,
                "conversion_from_start": 0.1,
                "conversion_from_previous": 0.2,
            },
            {
                "step_index": 4,
                "step_name": "Signed Up",
                "alternatives": ["Signed Up"],
                "sessions": 5,
                "conversion_from_start": 0.025,
                "conversion_from_previous": 0.25,
            },
        ],
    }
    one_day = get(client, "/v1/funnels/signup", start="2024-01-01", end="2024-01-01")["steps"]
    assert [(s["sessions"], s["conversion_from_previous"]) for s in one_day] == [
        (100, 1.0),
        (40, 0.4),
        (10, 0.25),
        (0, 0.0),
    ]
    checkout = get(client, "/v1/funnels/checkout", start="2024-01-02", end="2024-01-02")["steps"]
    assert [(s["sessions"], s["conversion_from_start"]) for s in checkout] == [(0, 0.0), (0, 0.0)]


def test_funnel_report_names_alternatives_and_window(client: TestClient) -> None:
    report = get(client, "/v1/funnels/plans", start="2024-01-01", end="2024-01-02")
    assert report["window_minutes"] == 90
    assert [(s["step_name"], s["alternatives"], s["sessions"]) for s in report["steps"]] == [
        ("/pricing | /plans", ["/pricing", "/plans"], 30),
        ("/signup", ["/signup"], 6),
    ]
    assert report["steps"][1]["conversion_from_start"] == pytest.approx(0.2)


def test_funnel_steps_must_name_something() -> None:
    with pytest.raises(ValueError, match="step 2 needs at least one"):
        FunnelConfig(name="broken", steps=["/", []])


def test_unknown_funnel_is_404(client: TestClient) -> None:
    response = client.get("/v1/funnels/refund", headers=ANALYST)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "unknown funnel 'refund'; configured funnels: checkout, plans, signup"
    }


def test_retention_cohorts_in_week_order(client: TestClient) -> None:
    assert get(client, "/v1/retention", from_week="2024-01-01", to_week="2024-01-08") == [
        {
            "cohort_week": "2024-01-01",
            "week_offset": 0,
            "cohort_size": 8,
            "retained_visitors": 8,
            "retention_rate": 1.0,
        },
        {
            "cohort_week": "2024-01-01",
            "week_offset": 1,
            "cohort_size": 8,
            "retained_visitors": 2,
            "retention_rate": 0.25,
        },
        {
            "cohort_week": "2024-01-08",
            "week_offset": 0,
            "cohort_size": 4,
            "retained_visitors": 4,
            "retention_rate": 1.0,
        },
    ]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        (
            {"from_week": "2024-01-02", "to_week": "2024-01-08"},
            "from_week (2024-01-02) is a Tuesday; it must be a Monday, e.g. 2024-01-01",
        ),
        (
            {"from_week": "2024-01-01", "to_week": "2024-01-14"},
            "to_week (2024-01-14) is a Sunday; it must be a Monday, e.g. 2024-01-08",
        ),
        (
            {"from_week": "2024-01-08", "to_week": "2024-01-01"},
            "to_week (2024-01-01) is before from_week (2024-01-08)",
        ),
    ],
)
def test_retention_weeks_must_be_mondays_in_order(
    client: TestClient, params: dict[str, str], detail: str
) -> None:
    response = client.get("/v1/retention", params=params, headers=ANALYST)
    assert (response.status_code, response.json()) == (400, {"detail": detail})


def test_visitor_sessions_newest_first_and_paginated(client: TestClient) -> None:
    first = get(client, "/v1/users/v1/sessions", USER_READER, start="2024-01-01", end="2024-01-03", limit=2)
    assert [s["session_id"] for s in first["items"]] == ["s3", "s2"]
    assert (first["total"], first["next_offset"]) == (3, 2)
    assert first["items"][0] == {
        "session_id": "s3",
        "visitor_id": "v1",
        "session_date": "2024-01-03",
        "started_at": "2024-01-03T07:00:00Z",
        "ended_at": "2024-01-03T07:00:00Z",
        "duration_seconds": 15.0,
        "events": 2,
        "page_views": 1,
        "landing_path": "/",
        "exit_path": None,
        "is_bounce": True,
        "source": "(direct)",
        "medium": "(none)",
        "campaign": "(not set)",
        "referrer_host": None,
        "device_type": "desktop",
        "browser": None,
        "os": None,
        "country": "DE",
    }
    second = get(
        client, "/v1/users/v1/sessions", USER_READER, start="2024-01-01", end="2024-01-03", limit=2, offset=2
    )
    assert ([s["session_id"] for s in second["items"]], second["next_offset"]) == (["s1"], None)
    narrow = get(client, "/v1/users/v1/sessions", USER_READER, start="2024-01-02", end="2024-01-03")
    assert [s["session_id"] for s in narrow["items"]] == ["s3"]
    assert (
        get(client, "/v1/users/nobody/sessions", USER_READER, start="2024-01-01", end="2024-01-03")["total"]
        == 0
    )


def test_auth_roles(client: TestClient) -> None:
    window = {"start": "2024-01-01", "end": "2024-01-02"}
    assert client.get("/v1/traffic", params=window).status_code == 401
    assert client.get("/v1/traffic", params=window, headers={API_KEY_HEADER: "nope"}).status_code == 401
    refused = client.get("/v1/traffic", params=window, headers=USER_READER)
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "this API key does not have role 'analyst'"},
    )
    assert client.get("/v1/users/v1/sessions", params=window, headers=ANALYST).status_code == 403
    assert client.get("/v1/users/v1/sessions", params=window).status_code == 401
    for path in [
        "/v1/traffic",
        "/v1/pages/top",
        "/v1/acquisition",
        "/v1/funnels",
        "/v1/funnels/signup",
        "/v1/retention",
    ]:
        assert client.get(path, headers=USER_READER).status_code == 403, path


def test_without_keys_aggregates_are_open_and_visitor_data_is_refused(lake_root: str) -> None:
    build_lake(lake_root)
    client = TestClient(create_app(web_config({}), lake_root=lake_root))
    assert (
        client.get("/v1/traffic", params={"start": "2024-01-01", "end": "2024-01-01"}).json()[0]["visitors"]
        == 10
    )
    refused = client.get("/v1/users/v1/sessions")
    assert refused.status_code == 403
    assert "no API keys are configured" in refused.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "detail"),
    [
        (
            "/v1/traffic",
            {"start": "2024-01-05", "end": "2024-01-01"},
            "end (2024-01-01) is before start (2024-01-05); end must be on or after start",
        ),
        (
            "/v1/pages/top",
            {"start": "2023-01-01", "end": "2024-02-05"},
            "start (2023-01-01) to end (2024-02-05) spans 401 days; at most 400 days per request",
        ),
    ],
)
def test_semantic_errors_are_400(client: TestClient, path: str, params: dict[str, str], detail: str) -> None:
    response = client.get(path, params=params, headers=ANALYST)
    assert (response.status_code, response.json()) == (400, {"detail": detail})


def test_a_range_of_exactly_400_days_is_allowed(client: TestClient) -> None:
    assert get(client, "/v1/pages/top", start="2023-01-01", end="2024-02-04")["total"] == 4


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/v1/traffic", {"granularity": "hour"}, "granularity"),
        ("/v1/traffic", {"start": "2024-13-01"}, "start"),
        ("/v1/pages/top", {"order_by": "bounces"}, "order_by"),
        ("/v1/acquisition", {"group_by": "country"}, "group_by"),
        ("/v1/acquisition", {"limit": "0"}, "limit"),
        ("/v1/retention", {"from_week": "monday"}, "from_week"),
    ],
)
def test_type_errors_are_422_naming_the_parameter(
    client: TestClient, path: str, params: dict[str, str], parameter: str
) -> None:
    response = client.get(path, params=params, headers=ANALYST)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["query", parameter]]


def test_a_new_gold_commit_is_served_on_the_next_request(client: TestClient, lake_root: str) -> None:
    window = {"start": "2024-01-01", "end": "2024-01-03"}
    assert [row["date"] for row in get(client, "/v1/traffic", **window)] == ["2024-01-01", "2024-01-02"]
    assert [row["date"] for row in get(client, "/v1/traffic", **window)] == ["2024-01-01", "2024-01-02"]
    cache = client.app.state.query_cache  # type: ignore[attr-defined]
    assert (cache.hits, cache.misses) == (1, 1)

    write(lake_root, GOLD_DAILY_TRAFFIC, DailyTraffic, (JAN3, "all", "all", 7, 7, 7, 0.0, 1.0), mode="append")
    assert [row["date"] for row in get(client, "/v1/traffic", **window)] == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]

    write(
        lake_root, GOLD_DAILY_TRAFFIC, DailyTraffic, (JAN2, "all", "all", 1, 1, 1, 1.0, 2.0), mode="overwrite"
    )
    assert get(client, "/v1/traffic", **window) == [
        {
            "date": "2024-01-02",
            "device_type": "all",
            "country": "all",
            "visitors": 1,
            "sessions": 1,
            "page_views": 1,
            "bounce_rate": 1.0,
            "avg_session_duration_seconds": 2.0,
        },
    ]


def test_before_the_pipeline_ran_tables_answer_503_and_ready_fails(lake_root: str) -> None:
    client = TestClient(create_app(web_config(KEYS), lake_root=lake_root))
    response = client.get("/v1/traffic", headers=ANALYST)
    assert response.status_code == 503
    assert response.json()["detail"].startswith(
        "table web-user-analytics.gold.daily_traffic does not exist yet: the pipeline has not produced it."
    )
    assert client.get("/v1/users/v1/sessions", headers=USER_READER).status_code == 503
    assert client.get("/v1/funnels", headers=ANALYST).status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert {check["name"]: check["status"] for check in ready.json()["checks"]} == {
        "table:web-user-analytics.gold.daily_traffic": "failing",
        "table:web-user-analytics.gold.page_stats": "failing",
        "table:web-user-analytics.gold.acquisition": "failing",
        "table:web-user-analytics.gold.funnel_steps": "failing",
        "table:web-user-analytics.gold.retention_cohorts": "failing",
        "table:web-user-analytics.gold.user_dimension": "failing",
        "table:web-user-analytics.silver.sessions": "failing",
    }

    build_lake(lake_root)
    assert client.get("/ready").status_code == 200
    assert (
        client.get(
            "/v1/traffic", params={"start": "2024-01-01", "end": "2024-01-01"}, headers=ANALYST
        ).json()[0]["sessions"]
        == 20
    )


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/health").json() == {
        "status": "ok",
        "service": "web-user-analytics",
        "version": "0.1.0",
    }
    client.get("/v1/funnels", headers=ANALYST)
    client.get("/v1/funnels")
    metrics = client.get("/metrics").text
    assert 'lakehouse_http_requests_total{method="GET",route="/v1/funnels",status="200"} 1.0' in metrics
    assert 'lakehouse_http_requests_total{method="GET",route="/v1/funnels",status="401"} 1.0' in metrics
