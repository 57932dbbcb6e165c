"""The silver job over a real bronze Delta table: events, app sessions, screen views and
quarantine; then one late event for one device, which changes only that device's rows."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import SparkSession

from lakehouse_core.delta import append, read_table
from lakehouse_core.ingestion.bronze import BRONZE_SCHEMA
from lakehouse_platform.event_products import run_silver
from mobile_user_analytics.config import load_mobile_config
from mobile_user_analytics.pipeline import MOBILE
from mobile_user_analytics.storage.tables import (
    BRONZE_EVENTS,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
    SILVER_SCREEN_VIEWS,
    SILVER_SESSIONS,
)

pytestmark = pytest.mark.integration

KEY = "integration-pseudonymisation-key"
TOPIC = "mobile.events.v1"
TEN = datetime(2024, 3, 10, 10, 0, tzinfo=UTC)


def device(name: str) -> str:
    return hmac.new(KEY.encode(), name.encode(), hashlib.sha256).hexdigest()


def call(message_id: str, device_id: str, minute: int, **fields: Any) -> dict[str, Any]:
    at = (TEN + timedelta(minutes=minute)).isoformat()
    return {
        "type": "track",
        "messageId": message_id,
        "anonymousId": f"anon-{device_id}",
        "timestamp": at,
        "receivedAt": at,
        "context": {
            "device": {"id": device_id},
            "os": {"name": "iOS", "version": "17.4"},
            "app": {"version": "3.1"},
        },
        **fields,
    }


def opened(message_id: str, device_id: str, minute: int) -> dict[str, Any]:
    return call(message_id, device_id, minute, event="Application Opened")


def screen(message_id: str, device_id: str, minute: int, name: str) -> dict[str, Any]:
    return call(message_id, device_id, minute, type="screen", name=name)


FIRST_BATCH: list[dict[str, Any] | str] = [
    opened("a-open", "dev-a", 0),
    screen("a-home", "dev-a", 1, "Home"),
    screen("a-cart", "dev-a", 3, "Cart"),
    call("a-bg", "dev-a", 5, event="Application Backgrounded"),
    opened("b-open", "dev-b", 0),
    screen("b-home", "dev-b", 2, "Home"),
    call("b-crash", "dev-b", 4, event="Application Crashed"),
    opened("b-relaunch", "dev-b", 5),
    screen("b-home-again", "dev-b", 6, "Home"),
    screen("a-home", "dev-a", 1, "Home"),
    "not json at all",
]
LATE_SETTINGS = {
    **screen("a-settings", "dev-a", 4, "Settings"),
    "timestamp": None,
    "originalTimestamp": "2024-03-10T10:14:00Z",
    "sentAt": "2024-03-12T08:10:00Z",
    "receivedAt": "2024-03-12T08:00:00Z",
}


def append_bronze(
    spark: SparkSession, lake_root: str, values: list[dict[str, Any] | str], *, offset: int
) -> None:
    ingested = datetime(2024, 3, 12, 8, 1) if offset else datetime(2024, 3, 10, 10, 10)
    rows = [
        (
            None,
            value
            if isinstance(value, str)
            else json.dumps({k: v for k, v in value.items() if v is not None}),
            TOPIC,
            0,
            offset + i,
            ingested,
            ingested,
            ingested.date(),
        )
        for i, value in enumerate(values)
    ]
    append(spark.createDataFrame(rows, BRONZE_SCHEMA), BRONZE_EVENTS, lake_root=lake_root)


def sessions_by_device(spark: SparkSession, lake_root: str) -> dict[str, list[dict[str, Any]]]:
    rows = sorted(
        read_table(spark, SILVER_SESSIONS, lake_root=lake_root).collect(), key=lambda r: r.started_at
    )
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row.device_key, []).append(row.asDict())
    return grouped


def screen_flow(
    spark: SparkSession, lake_root: str
) -> dict[str, tuple[str | None, str | None, float | None]]:
    return {
        r.event_id: (r.previous_screen, r.next_screen, r.seconds_on_screen)
        for r in read_table(spark, SILVER_SCREEN_VIEWS, lake_root=lake_root).collect()
    }


def test_silver_job_refines_bronze_and_a_late_event_changes_only_its_device(
    spark: SparkSession, lake_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILE_PSEUDONYMISATION_KEY", KEY)
    config = load_mobile_config()
    append_bronze(spark, lake_root, FIRST_BATCH, offset=0)

    first = run_silver(MOBILE, spark, config, lake_root=lake_root)

    assert first.batches == 1
    events = read_table(spark, SILVER_EVENTS, lake_root=lake_root).collect()
    assert sorted(r.event_id for r in events) == sorted(
        ["a-open", "a-home", "a-cart", "a-bg", "b-open", "b-home", "b-crash", "b-relaunch", "b-home-again"]
    )
    assert all(r.session_id is not None and r.event_date == date(2024, 3, 10) for r in events)
    quarantine = read_table(spark, QUARANTINE_EVENTS, lake_root=lake_root).collect()
    assert sorted((r.source_offset, r.event_id, list(r.failed_rules)) for r in quarantine) == [
        (9, "a-home", ["unique_message_id"]),
        (10, None, ["valid_json"]),
    ]
    before = sessions_by_device(spark, lake_root)
    summary = {
        key: [
            (s["started_at"].minute, s["ended_at"].minute, s["events"], s["screen_views"], s["crashed"])
            for s in rows
        ]
        for key, rows in before.items()
    }
    assert summary == {
        device("dev-a"): [(0, 5, 4, 2, False)],
        device("dev-b"): [(0, 4, 3, 1, True), (5, 6, 2, 1, False)],
    }
    assert screen_flow(spark, lake_root) == {
        "a-home": (None, "Cart", 120.0),
        "a-cart": ("Home", None, 120.0),
        "b-home": (None, None, 120.0),
        "b-home-again": (None, None, None),
    }

    append_bronze(spark, lake_root, [LATE_SETTINGS], offset=11)
    second = run_silver(MOBILE, spark, config, lake_root=lake_root)

    assert second.batches == 1
    late = read_table(spark, SILVER_EVENTS, lake_root=lake_root).where("event_id = 'a-settings'").collect()
    assert [(r.event_ts, r.event_date, r.session_id) for r in late] == [
        (datetime(2024, 3, 10, 10, 4), date(2024, 3, 10), before[device("dev-a")][0]["session_id"])
    ]
    after = sessions_by_device(spark, lake_root)
    assert after[device("dev-b")] == before[device("dev-b")]
    assert after[device("dev-a")] == [{**before[device("dev-a")][0], "events": 5, "screen_views": 3}]
    assert screen_flow(spark, lake_root) == {
        "a-home": (None, "Cart", 120.0),
        "a-cart": ("Home", "Settings", 60.0),
        "a-settings": ("Cart", None, 60.0),
        "b-home": (None, None, 120.0),
        "b-home-again": (None, None, None),
    }
    assert read_table(spark, QUARANTINE_EVENTS, lake_root=lake_root).count() == 2
