"""The app traffic generator: deterministic, valid Segment mobile messages with realistic shape."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lakehouse_events.segment import MAX_MESSAGE_BYTES, SegmentMessage
from mobile_user_analytics.ingestion.generator import (
    CATALOG,
    MARKETS,
    TRANSITIONS,
    Population,
    generate_day,
    make_device,
    release_schedule,
)

pytestmark = pytest.mark.unit

DAY = date(2024, 5, 1)
RELEASE_3_5 = date(2024, 4, 24)
LIFECYCLE = {"Application Opened", "Application Backgrounded", "Application Crashed"}
Messages = list[dict[str, Any]]


@pytest.fixture(scope="module")
def day_messages() -> Messages:
    return generate_day(DAY)


@pytest.fixture(scope="module")
def by_device(day_messages: Messages) -> dict[str, Messages]:
    """Each device's messages in the order they happened."""
    grouped: dict[str, Messages] = defaultdict(list)
    for message in day_messages:
        grouped[message["anonymousId"]].append(message)
    return {device: sorted(ms, key=at) for device, ms in grouped.items()}


def at(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(message["originalTimestamp"])


def sent(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(message["sentAt"])


def tracks(messages: Messages, event: str) -> Messages:
    return [m for m in messages if m["type"] == "track" and m["event"] == event]


def version(message: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(part) for part in message["context"]["app"]["version"].split("."))


def test_the_same_seed_gives_identical_messages_and_another_seed_different_ones() -> None:
    first = generate_day(DAY, devices=120, seed=11)
    assert generate_day(DAY, devices=120, seed=11) == first
    other = generate_day(DAY, devices=120, seed=12)
    assert other != first
    assert not {m["messageId"] for m in first} & {m["messageId"] for m in other}
    assert not {m["anonymousId"] for m in first} & {m["anonymousId"] for m in other}
    assert generate_day(DAY + timedelta(days=1), devices=120, seed=11) != first


def test_no_devices_means_no_messages() -> None:
    assert generate_day(DAY, devices=0) == []
    with pytest.raises(ValueError, match="devices must be >= 0, got -1"):
        generate_day(DAY, devices=-1)


def test_every_message_is_a_valid_segment_call_under_the_size_limit(day_messages: Messages) -> None:
    assert len({m["messageId"] for m in day_messages}) == len(day_messages)
    for message in day_messages:
        parsed = SegmentMessage.model_validate(message)
        assert parsed.message_id == message["messageId"]
        assert parsed.anonymous_id == message["anonymousId"]
        assert len(json.dumps(message).encode()) < MAX_MESSAGE_BYTES
        assert message["timestamp"] == message["originalTimestamp"]
        assert message["timestamp"].endswith("Z")
        assert at(message) <= sent(message)
        context = parsed.context
        assert context is not None
        assert context.app is not None
        assert context.app.name == "Example Shop"
        assert context.app.namespace == "com.example.shop"
        assert context.app.version == message["context"]["app"]["version"]
        assert context.device is not None
        assert context.device.advertising_id == message["context"]["device"].get("advertisingId")
        assert context.network is not None
        assert context.network.wifi is not context.network.cellular
    assert Counter(m["type"] for m in day_messages).keys() == {"screen", "track", "identify"}


def test_ios_and_android_devices_report_consistent_real_hardware(day_messages: Messages) -> None:
    platforms: Counter[str] = Counter()
    for message in day_messages:
        context = message["context"]
        device, os, screen = context["device"], context["os"], context["screen"]
        platforms[device["type"]] += 1
        if device["type"] == "ios":
            assert (os["name"], context["library"]["name"]) == ("iOS", "analytics-ios")
            assert device["manufacturer"] == "Apple"
            assert device["model"].startswith("iPhone")
            assert device["id"] == device["id"].upper()
            assert message["messageId"] == message["messageId"].upper()
            assert screen["width"] < 500
        else:
            assert (os["name"], context["library"]["name"]) == ("Android", "analytics-android")
            assert device["manufacturer"] in {"samsung", "Google", "Xiaomi", "OnePlus", "motorola"}
            assert len(device["id"]) == 16
            assert screen["width"] >= 1080
        assert ("advertisingId" in device) is device["adTrackingEnabled"]
        market = next(m for m in MARKETS if m.timezone == context["timezone"])
        assert context["locale"] == market.locale
        assert context["network"]["carrier"] in market.carriers
    assert 0.35 < platforms["ios"] / sum(platforms.values()) < 0.55


def test_about_the_requested_number_of_devices_with_a_tenth_new_installs(
    day_messages: Messages, by_device: dict[str, Messages]
) -> None:
    assert 1300 < len(by_device) < 1700
    installs = tracks(day_messages, "Application Installed")
    assert len(installs) == 150
    assert len({m["anonymousId"] for m in installs}) == 150


def test_new_devices_install_before_anything_else(by_device: dict[str, Messages]) -> None:
    new = [ms for ms in by_device.values() if any(m.get("event") == "Application Installed" for m in ms)]
    assert len(new) == 150
    for messages in new:
        first, second = messages[0], messages[1]
        assert first["event"] == "Application Installed"
        assert first["properties"]["version"] == first["context"]["app"]["version"]
        assert second["event"] == "Application Opened"
        assert second["properties"]["from_background"] is False
        assert not tracks(messages, "Application Updated")


def test_every_device_uses_the_app_only_between_an_open_and_a_background_or_crash(
    by_device: dict[str, Messages],
) -> None:
    for messages in by_device.values():
        foreground = False
        for message in messages:
            event = message.get("event")
            if event == "Application Opened":
                assert not foreground
                foreground = True
            elif event in {"Application Backgrounded", "Application Crashed"}:
                assert foreground
                foreground = False
            elif event not in {"Application Installed", "Application Updated"}:
                assert foreground, message
        assert not foreground
        after_crash = [b for a, b in pairwise(messages) if a.get("event") == "Application Crashed"]
        assert all(b["event"] == "Application Opened" for b in after_crash)
        assert all(b["properties"]["from_background"] is False for b in after_crash)


def test_users_come_back_from_the_background_within_30_minutes_and_later(
    by_device: dict[str, Messages],
) -> None:
    gaps: list[timedelta] = []
    for messages in by_device.values():
        for left, back in pairwise(messages):
            if left.get("event") == "Application Backgrounded" and back["properties"].get("from_background"):
                gaps.append(at(back) - at(left))
    assert sum(gap < timedelta(minutes=30) for gap in gaps) > 300
    assert sum(gap > timedelta(minutes=30) for gap in gaps) > 50


def test_upgrades_report_the_previous_version_and_the_new_one_is_used_from_then(
    day_messages: Messages, by_device: dict[str, Messages]
) -> None:
    updates = tracks(day_messages, "Application Updated")
    pairs = Counter((m["properties"]["previous_version"], m["properties"]["version"]) for m in updates)
    assert pairs[("3.4.0", "3.5.0")] > 200
    assert pairs.most_common(1)[0][0] == ("3.4.0", "3.5.0")
    for update in updates:
        properties = update["properties"]
        assert properties["version"] == update["context"]["app"]["version"]
        assert properties["build"] == update["context"]["app"]["build"]
        previous = tuple(int(p) for p in properties["previous_version"].split("."))
        assert previous < version(update)
        assert properties["previous_build"] != properties["build"]
    for messages in by_device.values():
        assert len({m["context"]["app"]["version"] for m in messages}) == 1


def test_the_new_release_spreads_over_the_rollout_days() -> None:
    def share(day: date) -> float:
        opens = tracks(generate_day(day, devices=300, newest_release=RELEASE_3_5), "Application Opened")
        devices: dict[str, str] = {m["anonymousId"]: m["context"]["app"]["version"] for m in opens}
        return sum(v == "3.5.0" for v in devices.values()) / len(devices)

    before, early, later, settled = (share(DAY + timedelta(days=d)) for d in (-8, -4, 0, 10))
    assert before == 0.0
    assert 0.0 < early < later < settled


def test_days_agree_on_devices_versions_and_users() -> None:
    today = generate_day(DAY, devices=400, newest_release=RELEASE_3_5)
    tomorrow = generate_day(DAY + timedelta(days=1), devices=400, newest_release=RELEASE_3_5)

    def last(messages: Messages) -> dict[str, dict[str, Any]]:
        return {m["anonymousId"]: m for m in sorted(messages, key=at)}

    seen_today = last(today)
    first_tomorrow = {m["anonymousId"]: m for m in sorted(tomorrow, key=at, reverse=True)}
    returning = seen_today.keys() & first_tomorrow.keys()
    assert 0.15 * len(first_tomorrow) < len(returning) < 0.6 * len(first_tomorrow)
    installed_tomorrow = {m["anonymousId"] for m in tracks(tomorrow, "Application Installed")}
    assert installed_tomorrow
    assert not installed_tomorrow & seen_today.keys()
    updates = {m["anonymousId"]: m for m in tracks(tomorrow, "Application Updated")}
    for device in returning:
        before, after = seen_today[device], first_tomorrow[device]
        for key in ("id", "model", "manufacturer"):
            assert before["context"]["device"][key] == after["context"]["device"][key]
        if device in updates:
            assert updates[device]["properties"]["previous_version"] == before["context"]["app"]["version"]
        else:
            assert after["context"]["app"]["version"] == before["context"]["app"]["version"]
        if "userId" in before:
            assert after["userId"] == before["userId"]


def test_crashes_concentrate_on_android_3_5_0(day_messages: Messages) -> None:
    def release(message: dict[str, Any]) -> tuple[str, str]:
        return message["context"]["device"]["type"], message["context"]["app"]["version"]

    opens = Counter(release(m) for m in tracks(day_messages, "Application Opened"))
    crashes = Counter(release(m) for m in tracks(day_messages, "Application Crashed"))
    faulty = ("android", "3.5.0")
    faulty_rate = crashes[faulty] / opens[faulty]
    others_rate = (crashes.total() - crashes[faulty]) / (opens.total() - opens[faulty])
    assert crashes[faulty] > 30
    assert crashes.total() > crashes[faulty]
    assert faulty_rate >= 3 * others_rate
    assert faulty_rate > 3 * crashes[("ios", "3.5.0")] / opens[("ios", "3.5.0")]
    for crash in tracks(day_messages, "Application Crashed"):
        assert crash["properties"]["exception"]
        assert crash["properties"]["screen"] in TRANSITIONS


def test_some_devices_send_their_queue_hours_or_days_late(day_messages: Messages) -> None:
    delays = [sent(m) - at(m) for m in day_messages]
    late = [m for m, delay in zip(day_messages, delays, strict=True) if delay > timedelta(hours=1)]
    assert len(late) > 200
    assert any(delay > timedelta(days=1) for delay in delays)
    assert sum(delay < timedelta(seconds=60) for delay in delays) > 0.9 * len(delays)
    late_devices = {m["anonymousId"] for m in late}
    assert 20 < len(late_devices) < 0.15 * len({m["anonymousId"] for m in day_messages})
    batches: Counter[tuple[str, str]] = Counter((m["anonymousId"], m["sentAt"]) for m in day_messages)
    online = [size for (device, _), size in batches.items() if device not in late_devices]
    assert max(online) <= 20
    assert sum(size > 1 for size in online) > 0.5 * len(online)
    assert max(size for (device, _), size in batches.items() if device in late_devices) > 20


def test_messages_arrive_in_send_order_once_skewed_clocks_are_corrected(day_messages: Messages) -> None:
    population = Population.sized(1500, 7, releases=release_schedule(RELEASE_3_5))
    skews = {}
    for key, installed in population.active_devices(DAY):
        device = make_device(7, key, installed)
        skews[device.anonymous_id] = device.clock_skew
    assert skews.keys() == {m["anonymousId"] for m in day_messages}
    skewed = {device for device, skew in skews.items() if skew}
    assert 0.01 * len(skews) < len(skewed) < 0.06 * len(skews)

    received = [sent(m) - skews[m["anonymousId"]] for m in day_messages]
    assert all(b - a > -timedelta(milliseconds=1) for a, b in pairwise(received))
    device_clock = [sent(m) for m in day_messages]
    assert any(b < a - timedelta(seconds=10) for a, b in pairwise(device_clock))


def test_apps_are_used_in_the_local_evening_more_than_at_night(day_messages: Messages) -> None:
    local_hours = Counter(
        at(m).astimezone(ZoneInfo(m["context"]["timezone"])).hour
        for m in tracks(day_messages, "Application Opened")
        if m["properties"]["from_background"] is False
    )
    evening = local_hours[19] + local_hours[20] + local_hours[21]
    night = local_hours[2] + local_hours[3] + local_hours[4]
    assert evening > 5 * night > 0
    utc_hours = Counter(at(m).astimezone(UTC).hour for m in day_messages)
    assert min(utc_hours[h] for h in range(24)) > 0


def test_screens_follow_the_app_navigation(by_device: dict[str, Messages]) -> None:
    views: Counter[str] = Counter()
    for messages in by_device.values():
        screens = [m for m in messages if m["type"] == "screen"]
        views.update(m["name"] for m in screens)
        for before, after in pairwise(screens):
            if after["name"] == "Checkout":
                assert before["name"] == "Cart"
        for previous, message in pairwise(messages):
            if message["type"] == "screen" and message["name"] == "Product":
                assert message["properties"]["product_id"] in {p[0] for p in CATALOG}
            if message.get("event") == "Product Viewed":
                assert previous["name"] == "Product"
                assert previous["properties"]["product_id"] == message["properties"]["product_id"]
    assert views.keys() == TRANSITIONS.keys()
    assert views.most_common(1)[0][0] == "Home"
    assert views["Product"] > views["Cart"] > views["Checkout"] > 0


def test_the_shop_funnel_narrows_and_orders_add_up(day_messages: Messages) -> None:
    steps = ("Product Viewed", "Added to Cart", "Checkout Started", "Order Completed")
    counts = [len(tracks(day_messages, step)) for step in steps]
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0

    prices = {product_id: price for product_id, _, _, price in CATALOG}
    for order in tracks(day_messages, "Order Completed"):
        properties = order["properties"]
        expected = sum(prices[item["product_id"]] * item["quantity"] for item in properties["products"])
        assert properties["revenue"] == pytest.approx(expected)
        assert properties["currency"] == "EUR"
        assert properties["order_id"].startswith("ord_")


def test_signed_in_users_are_identified_with_traits_and_keep_their_user_id(
    day_messages: Messages, by_device: dict[str, Messages]
) -> None:
    identifies = [m for m in day_messages if m["type"] == "identify"]
    assert len(identifies) > 200
    for identify in identifies:
        assert identify["userId"].startswith("usr_")
        traits = identify["traits"]
        assert traits["email"].endswith("@example.com")
        assert traits["name"] == f"{traits['firstName']} {traits['lastName']}"
    signing_in = 0
    for messages in by_device.values():
        users = [m.get("userId") for m in messages]
        assert len(set(users) - {None}) <= 1
        if None in users and set(users) != {None}:
            signing_in += 1
            first_user = users.index(next(u for u in users if u is not None))
            assert messages[first_user]["type"] == "identify"
            assert None not in users[first_user:]
    assert signing_in > 20
