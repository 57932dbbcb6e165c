"""A hand-built day of app events with known answers, through the real collector, Kafka, Spark,
Delta and the API.

Day D:
- ``ios-a`` installs 3.4.0 at 09:00 and uses Home → Product → (background 09:03, back at 09:20,
  inside 30 minutes: same session) → Cart, backgrounds at 09:22. At 10:30 it opens again (68
  minutes later: a new session), upgrades to 3.5.0 at 10:30:30 and views Home.
- ``android-b`` on 3.5.0 opens at 12:00, views Home, crashes at 12:02, opens again at 12:03 (a
  new session after a crash), views Settings, backgrounds at 12:05. Its SDK re-sends that whole
  batch (same messageIds).
- ``android-c`` on 3.4.0 used the app at 08:00 on D but was offline: its batch arrives now, with
  ``sentAt`` = now and ``originalTimestamp`` on D, so it must land on D.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest
from pyspark.sql import SparkSession

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.kafka.admin import ensure_topics
from lakehouse_core.settings import LakehouseSettings
from lakehouse_events.product import collector_app, reconcile_product, topic_specs
from lakehouse_platform.orchestrator import run_pipeline
from lakehouse_testing.plugin import KafkaFixture, serve_in_thread
from mobile_user_analytics.config import MobileConfig, load_mobile_config
from mobile_user_analytics.pipeline import MOBILE, build_pipeline
from mobile_user_analytics.serving.app import create_app
from mobile_user_analytics.storage.tables import QUARANTINE_EVENTS, SILVER_EVENTS, SILVER_SESSIONS

pytestmark = pytest.mark.e2e

D = "2026-03-02"
WRITE_KEY = "e2e-mobile-key"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}

DEVICES = {
    "ios-a": {"os": {"name": "iOS", "version": "17.4"}, "manufacturer": "Apple", "model": "iPhone15,2"},
    "android-b": {"os": {"name": "Android", "version": "14"}, "manufacturer": "Google", "model": "Pixel 8"},
    "android-c": {"os": {"name": "Android", "version": "13"}, "manufacturer": "Samsung", "model": "SM-S911B"},
}


def context(device: str, app_version: str) -> dict[str, object]:
    facts = DEVICES[device]
    return {
        "app": {
            "name": "Shop",
            "version": app_version,
            "build": app_version.replace(".", ""),
            "namespace": "com.shop",
        },
        "device": {"id": f"hw-{device}", "manufacturer": facts["manufacturer"], "model": facts["model"]},
        "os": facts["os"],
        "network": {"wifi": True},
        "screen": {"width": 1170, "height": 2532},
        "locale": "en-GB",
        "timezone": "Europe/London",
        "ip": "198.51.100.23",
    }


def call(mid: str, device: str, at: str, app_version: str, **fields: object) -> dict[str, object]:
    return {
        "messageId": mid,
        "anonymousId": f"anon-{device}",
        "originalTimestamp": f"{D}T{at}Z",
        "context": context(device, app_version),
        **fields,
    }


def track(
    mid: str, device: str, at: str, app_version: str, event: str, **properties: object
) -> dict[str, object]:
    return call(mid, device, at, app_version, type="track", event=event, properties=properties)


def screen(mid: str, device: str, at: str, app_version: str, name: str) -> dict[str, object]:
    return call(mid, device, at, app_version, type="screen", name=name)


DEVICE_A = [
    track("a01", "ios-a", "09:00:00", "3.4.0", "Application Installed", version="3.4.0", build="340"),
    track("a02", "ios-a", "09:00:01", "3.4.0", "Application Opened", from_background=False),
    screen("a03", "ios-a", "09:00:05", "3.4.0", "Home"),
    screen("a04", "ios-a", "09:01:00", "3.4.0", "Product"),
    track("a05", "ios-a", "09:02:00", "3.4.0", "Product Viewed", product_id="p-1"),
    track("a06", "ios-a", "09:03:00", "3.4.0", "Application Backgrounded"),
    track("a07", "ios-a", "09:20:00", "3.4.0", "Application Opened", from_background=True),
    screen("a08", "ios-a", "09:21:00", "3.4.0", "Cart"),
    track("a09", "ios-a", "09:22:00", "3.4.0", "Application Backgrounded"),
    track("a10", "ios-a", "10:30:00", "3.4.0", "Application Opened", from_background=False),
    track(
        "a11", "ios-a", "10:30:30", "3.5.0", "Application Updated", previous_version="3.4.0", version="3.5.0"
    ),
    screen("a12", "ios-a", "10:31:00", "3.5.0", "Home"),
    track("a13", "ios-a", "10:32:00", "3.5.0", "Application Backgrounded"),
]
DEVICE_B = [
    track("b01", "android-b", "12:00:00", "3.5.0", "Application Opened", from_background=False),
    screen("b02", "android-b", "12:01:00", "3.5.0", "Home"),
    track("b03", "android-b", "12:02:00", "3.5.0", "Application Crashed", exception="NullPointerException"),
    track("b04", "android-b", "12:03:00", "3.5.0", "Application Opened", from_background=False),
    screen("b05", "android-b", "12:04:00", "3.5.0", "Settings"),
    track("b06", "android-b", "12:05:00", "3.5.0", "Application Backgrounded"),
]


def device_c_late_batch() -> list[dict[str, object]]:
    sent_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    messages = [
        track("c01", "android-c", "08:00:00", "3.4.0", "Application Opened", from_background=False),
        screen("c02", "android-c", "08:00:10", "3.4.0", "Home"),
        track("c03", "android-c", "08:05:00", "3.4.0", "Application Backgrounded"),
    ]
    return [{**m, "sentAt": sent_at} for m in messages]


@pytest.fixture
def product(
    kafka_broker: KafkaFixture, lake_root: str, unique_topic: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[MobileConfig, LakehouseSettings, str]]:
    monkeypatch.setenv("MOBILE_COLLECTOR__WRITE_KEYS", orjson.dumps([WRITE_KEY]).decode())
    monkeypatch.setenv("MOBILE_PSEUDONYMISATION_KEY", "e2e-mobile-pseudonymisation-key")
    monkeypatch.setenv("MOBILE_TOPICS__EVENTS__NAME", unique_topic)
    monkeypatch.setenv("MOBILE_TOPICS__DEAD_LETTER__NAME", f"{unique_topic}.dlq")
    config = load_mobile_config()
    settings = LakehouseSettings(kafka_bootstrap_servers=kafka_broker.bootstrap_servers, lake_root=lake_root)
    ensure_topics(kafka_broker.bootstrap_servers, topic_specs(config.topics))
    with serve_in_thread(collector_app(config, settings)) as url:
        yield config, settings, url


def post_batch(url: str, messages: list[dict[str, object]]) -> int:
    response = httpx.post(
        f"{url}/v1/batch", content=orjson.dumps({"batch": messages}), headers=AUTH, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == []
    return int(response.json()["accepted"])


def rows(location: str) -> list[dict[str, object]]:
    return read_arrow(location).to_pylist()  # type: ignore[no-any-return]


def test_known_app_day_through_every_layer_and_the_api(
    product: tuple[MobileConfig, LakehouseSettings, str], spark: SparkSession
) -> None:
    config, settings, url = product
    lake = settings.lake_root
    accepted = post_batch(url, DEVICE_A) + post_batch(url, DEVICE_B) + post_batch(url, DEVICE_B)
    accepted += post_batch(url, device_c_late_batch())
    assert accepted == 13 + 6 + 6 + 3

    pipeline = build_pipeline(
        config, spark=lambda: spark, bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=lake
    )
    result = run_pipeline(pipeline)
    assert result.status == "succeeded", [t.error for t in result.tasks]

    counts = reconcile_product(
        MOBILE, config, bootstrap_servers=settings.kafka_bootstrap_servers, lake_root=lake
    )
    assert (counts.kafka, counts.bronze, counts.silver, counts.quarantine) == (28, 28, 22, 6)
    assert {tuple(q["failed_rules"]) for q in rows(QUARANTINE_EVENTS.location(lake))} == {
        ("unique_message_id",)
    }

    events = rows(SILVER_EVENTS.location(lake))
    stored = orjson.dumps(events).decode()
    assert "hw-ios-a" not in stored
    assert "anon-ios-a" not in stored
    assert {e["event_date"].isoformat() for e in events} == {D}

    sessions = sorted(rows(SILVER_SESSIONS.location(lake)), key=lambda s: s["started_at"])
    summary = [
        (s["started_at"].strftime("%H:%M"), s["platform"], s["app_version"], s["screen_views"], s["crashed"])
        for s in sessions
    ]
    assert summary == [
        ("08:00", "android", "3.4.0", 1, False),
        ("09:00", "ios", "3.4.0", 2 + 1, False),
        ("10:30", "ios", "3.4.0", 1, False),
        ("12:00", "android", "3.5.0", 1, True),
        ("12:03", "android", "3.5.0", 1, False),
    ]
    assert [s["duration_seconds"] for s in sessions[1:]] == [1320.0, 120.0, 120.0, 120.0]

    with serve_in_thread(create_app(config, lake_root=lake)) as api:
        active = httpx.get(f"{api}/v1/active-users", params={"start": D, "end": D, "platform": "all"}).json()
        assert [(a["dau"], a["mau"]) for a in active] == [(3, 3)]
        by_platform = {
            p: httpx.get(f"{api}/v1/active-users", params={"start": D, "end": D, "platform": p}).json()[0][
                "dau"
            ]
            for p in ("ios", "android")
        }
        assert by_platform == {"ios": 1, "android": 2}

        crash_free = httpx.get(
            f"{api}/v1/crash-free", params={"start": D, "end": D, "platform": "android"}
        ).json()
        cells = {
            c["app_version"]: (c["sessions"], c["crashed_sessions"], c["crash_free_sessions"])
            for c in crash_free
        }
        assert cells["3.5.0"] == (2, 1, 0.5)
        assert cells["3.4.0"] == (1, 0, 1.0)

        installs = httpx.get(f"{api}/v1/installs", params={"start": D, "end": D, "platform": "ios"}).json()
        assert [(i["installs"], i["retained_d1"]) for i in installs] == [(1, 0)]

        transitions = httpx.get(f"{api}/v1/screens/transitions", params={"start": D, "end": D}).json()
        pairs = {(t["from_screen"], t["to_screen"]): t["transitions"] for t in transitions["items"]}
        assert pairs == {("Home", "Product"): 1, ("Product", "Cart"): 1}

        assert httpx.get(f"{api}/v1/devices/anything").status_code == 403
        assert httpx.get(f"{api}/ready").status_code == 200
