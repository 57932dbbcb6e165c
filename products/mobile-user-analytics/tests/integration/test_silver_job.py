"""The silver job over a real bronze Delta table: events, app sessions, screen views and
quarantine; then one late event for one device, which changes only that device's rows. Then
the edges: a batch days older than a session across midnight, an SDK retry on another day,
a batch on two days far apart, and a batch refused as systemic breakage."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from lakehouse_core.delta import append, read_table
from lakehouse_core.errors import SystemicBreakageError
from lakehouse_core.ingestion.bronze import BRONZE_SCHEMA
from lakehouse_core.privacy import SUBJECT_KEY_VARIABLE, subject_key_of
from lakehouse_events.product import run_silver
from lakehouse_events.refinement import HELD_RULE, RefinementStep
from mobile_user_analytics.config import load_mobile_config
from mobile_user_analytics.pipeline import MOBILE
from mobile_user_analytics.storage.tables import (
    BRONZE_EVENTS,
    QUARANTINE_EVENTS,
    SILVER_EVENTS,
    SILVER_IDENTITY_LINKS,
    SILVER_SCREEN_VIEWS,
    SILVER_SESSIONS,
)

pytestmark = pytest.mark.integration

KEY = "integration-pseudonymisation-key"
SUBJECT_KEY = b"integration-subject-key"
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
    {**screen("a-home", "dev-a", 1, "Home"), "userId": "user-a"},
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
            None,
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
    monkeypatch.setenv(SUBJECT_KEY_VARIABLE, SUBJECT_KEY.decode())
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
    assert sorted((r.source_offset, r.subject_key) for r in quarantine) == [
        (9, subject_key_of("user-a", SUBJECT_KEY)),
        (10, None),
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


def at(message_id: str, device_id: str, when: datetime, **fields: Any) -> dict[str, Any]:
    """A screen call of ``device_id`` at ``when`` (also its receivedAt)."""
    return {
        **call(message_id, device_id, 0, type="screen", name="Home"),
        "timestamp": when.isoformat(),
        "receivedAt": when.isoformat(),
        **fields,
    }


def session_spans(spark: SparkSession, lake_root: str, name: str) -> list[tuple[datetime, datetime, int]]:
    return [
        (s["started_at"], s["ended_at"], s["events"])
        for s in sessions_by_device(spark, lake_root)[device(name)]
    ]


def partitions_written(lake_root: str, spec_location: str, after_version: int) -> set[str]:
    """The partition values of the files added or removed by the commits after ``after_version``."""
    log = Path(spec_location) / "_delta_log"
    touched: set[str] = set()
    for commit in sorted(log.glob("*.json")):
        if int(commit.stem) <= after_version:
            continue
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            for kind in ("add", "remove"):
                if kind in action:
                    touched.update(action[kind].get("partitionValues", {}).values())
    return touched


def latest_version(spec_location: str) -> int:
    return max(int(p.stem) for p in (Path(spec_location) / "_delta_log").glob("*.json"))


def test_a_batch_days_older_than_a_stored_session_across_midnight_keeps_that_session_whole(
    spark: SparkSession, lake_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILE_PSEUDONYMISATION_KEY", KEY)
    config = load_mobile_config()
    late_night = datetime(2024, 3, 12, 23, 50, tzinfo=UTC)
    append_bronze(
        spark,
        lake_root,
        [
            at("n-1", "dev-a", late_night),
            at("n-2", "dev-a", late_night + timedelta(minutes=5)),
            at("n-3", "dev-a", late_night + timedelta(minutes=20)),
        ],
        offset=0,
    )
    run_silver(MOBILE, spark, config, lake_root=lake_root)
    night = (datetime(2024, 3, 12, 23, 50), datetime(2024, 3, 13, 0, 10), 3)
    assert session_spans(spark, lake_root, "dev-a") == [night]

    append_bronze(
        spark, lake_root, [at("queued", "dev-a", datetime(2024, 3, 11, 12, 0, tzinfo=UTC))], offset=3
    )
    run_silver(MOBILE, spark, config, lake_root=lake_root)

    assert session_spans(spark, lake_root, "dev-a") == [
        (datetime(2024, 3, 11, 12, 0), datetime(2024, 3, 11, 12, 0), 1),
        night,
    ]
    sessions = {
        r.event_id: r.session_id for r in read_table(spark, SILVER_EVENTS, lake_root=lake_root).collect()
    }
    assert sessions["n-1"] == sessions["n-2"] == sessions["n-3"] != sessions["queued"]


def test_an_sdk_retry_whose_corrected_time_lands_on_another_day_is_a_duplicate(
    spark: SparkSession, lake_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILE_PSEUDONYMISATION_KEY", KEY)
    config = load_mobile_config()
    append_bronze(
        spark, lake_root, [at("retried", "dev-a", datetime(2024, 3, 10, 9, 0, tzinfo=UTC))], offset=0
    )
    run_silver(MOBILE, spark, config, lake_root=lake_root)

    retry = at("retried", "dev-a", datetime(2024, 3, 13, 9, 0, tzinfo=UTC))
    append_bronze(
        spark, lake_root, [retry, at("other", "dev-b", datetime(2024, 3, 13, 9, 0, tzinfo=UTC))], offset=1
    )
    run_silver(MOBILE, spark, config, lake_root=lake_root)

    events = read_table(spark, SILVER_EVENTS, lake_root=lake_root).collect()
    assert sorted((r.event_id, r.event_date) for r in events) == [
        ("other", date(2024, 3, 13)),
        ("retried", date(2024, 3, 10)),
    ]
    quarantine = read_table(spark, QUARANTINE_EVENTS, lake_root=lake_root).collect()
    assert [(r.source_offset, r.event_id, list(r.failed_rules)) for r in quarantine] == [
        (1, "retried", ["unique_message_id"])
    ]
    assert "already seen at partition 0, offset 0" in quarantine[0].reason


def test_events_on_two_days_far_apart_rewrite_only_those_days_neighbourhoods(
    spark: SparkSession, lake_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILE_PSEUDONYMISATION_KEY", KEY)
    config = load_mobile_config()
    append_bronze(
        spark,
        lake_root,
        [
            at("march", "dev-a", datetime(2024, 3, 10, 9, 0, tzinfo=UTC)),
            at("april", "dev-a", datetime(2024, 4, 15, 9, 0, tzinfo=UTC)),
            at("june", "dev-a", datetime(2024, 6, 10, 9, 0, tzinfo=UTC)),
        ],
        offset=0,
    )
    run_silver(MOBILE, spark, config, lake_root=lake_root)
    sessions_at = SILVER_SESSIONS.location(lake_root)
    screens_at = SILVER_SCREEN_VIEWS.location(lake_root)
    before = (latest_version(sessions_at), latest_version(screens_at))

    append_bronze(
        spark,
        lake_root,
        [
            at("march-late", "dev-a", datetime(2024, 3, 10, 9, 10, tzinfo=UTC)),
            at("june-late", "dev-a", datetime(2024, 6, 10, 9, 10, tzinfo=UTC)),
        ],
        offset=3,
    )
    run_silver(MOBILE, spark, config, lake_root=lake_root)

    assert [events for _, _, events in session_spans(spark, lake_root, "dev-a")] == [2, 1, 2]
    assert partitions_written(lake_root, sessions_at, before[0]) == {"2024-03-10", "2024-06-10"}
    assert partitions_written(lake_root, screens_at, before[1]) == {"2024-03-10", "2024-06-10"}


def test_a_batch_refused_as_systemic_breakage_keeps_every_record_in_quarantine_until_refined(
    spark: SparkSession, lake_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILE_PSEUDONYMISATION_KEY", KEY)
    config = load_mobile_config()
    received = datetime(2024, 3, 10, 9, 0, tzinfo=UTC)
    recorded = [
        at(f"old-{i}", "dev-a", received, timestamp=f"2019-11-{i + 1:02d}T10:00:00+00:00") for i in range(20)
    ]
    fresh = [at("fresh-1", "dev-b", received), at("fresh-2", "dev-b", received + timedelta(minutes=1))]
    append_bronze(spark, lake_root, [*recorded, *fresh], offset=0)

    for _ in range(2):
        with pytest.raises(SystemicBreakageError) as refused:
            run_silver(MOBILE, spark, config, lake_root=lake_root)
        assert "20 of 22 rows quarantined" in str(refused.value)
        assert "event_time_plausible: 20 of 22 rows" in str(refused.value)
        quarantine = read_table(spark, QUARANTINE_EVENTS, lake_root=lake_root).collect()
        assert sorted((r.event_id, tuple(r.failed_rules)) for r in quarantine) == sorted(
            [(f"old-{i}", ("event_time_plausible",)) for i in range(20)]
            + [("fresh-1", (HELD_RULE,)), ("fresh-2", (HELD_RULE,))]
        )
        assert all("the whole batch was refused" in r.reason for r in quarantine)
        assert read_table(spark, SILVER_EVENTS, lake_root=lake_root).count() == 0

    tolerant = config.model_copy(update={"max_quarantine_fraction": 1.0})
    run_silver(MOBILE, spark, tolerant, lake_root=lake_root)

    events = read_table(spark, SILVER_EVENTS, lake_root=lake_root).collect()
    assert sorted(r.event_id for r in events) == ["fresh-1", "fresh-2"]
    quarantine = read_table(spark, QUARANTINE_EVENTS, lake_root=lake_root).collect()
    assert sorted(r.event_id for r in quarantine) == sorted(f"old-{i}" for i in range(20))
    assert not any("the whole batch was refused" in r.reason for r in quarantine)
    assert read_table(spark, BRONZE_EVENTS, lake_root=lake_root).count() == len(events) + len(quarantine)


def test_a_sign_in_is_stored_as_one_identity_link_however_often_its_batch_is_refined(
    spark: SparkSession, lake_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOBILE_PSEUDONYMISATION_KEY", KEY)
    monkeypatch.setenv(SUBJECT_KEY_VARIABLE, SUBJECT_KEY.decode())
    sign_in = {**call("sign-in", "dev-a", 2, type="identify", userId="user-a"), "anonymousId": None}
    append_bronze(spark, lake_root, [opened("a-open", "dev-a", 0), sign_in], offset=0)
    step = RefinementStep(MOBILE.build_refinement(load_mobile_config()), lake_root)
    bronze = read_table(spark, BRONZE_EVENTS, lake_root=lake_root)

    step(bronze, 0)
    step(bronze, 0)

    links = read_table(spark, SILVER_IDENTITY_LINKS, lake_root=lake_root).collect()
    assert [(r.subject_key, r.linked_id, r.link_kind, r.event_id) for r in links] == [
        (subject_key_of("user-a", SUBJECT_KEY), device("dev-a"), "sign_in", "sign-in")
    ]
    assert read_table(spark, SILVER_EVENTS, lake_root=lake_root).count() == 2
