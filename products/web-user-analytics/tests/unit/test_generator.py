"""The traffic generator: deterministic, valid Segment messages with realistic shape."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from lakehouse_events.segment import MAX_MESSAGE_BYTES, SegmentMessage
from web_user_analytics.ingestion.generator import PRODUCTS, generate_day

pytestmark = pytest.mark.unit

DAY = date(2024, 5, 1)


@pytest.fixture(scope="module")
def day_messages() -> list[dict[str, Any]]:
    return generate_day(DAY)


def at(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(message["originalTimestamp"])


def page_views(messages: list[dict[str, Any]], path: str) -> int:
    return sum(1 for m in messages if m["type"] == "page" and m["context"]["page"]["path"] == path)


def tracks(messages: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == "track" and m["event"] == event]


def test_the_same_seed_gives_identical_messages_and_another_seed_different_ones() -> None:
    first = generate_day(DAY, visitors=150, seed=11)
    assert generate_day(DAY, visitors=150, seed=11) == first
    other = generate_day(DAY, visitors=150, seed=12)
    assert other != first
    assert not {m["messageId"] for m in first} & {m["messageId"] for m in other}
    assert generate_day(DAY + timedelta(days=1), visitors=150, seed=11) != first


def test_no_visitors_means_no_messages() -> None:
    assert generate_day(DAY, visitors=0) == []
    with pytest.raises(ValueError, match="visitors must be >= 0, got -1"):
        generate_day(DAY, visitors=-1)


def test_every_message_is_a_valid_segment_call_under_the_size_limit(
    day_messages: list[dict[str, Any]],
) -> None:
    assert len({m["messageId"] for m in day_messages}) == len(day_messages)
    for message in day_messages:
        parsed = SegmentMessage.model_validate(message)
        assert parsed.message_id == message["messageId"]
        assert parsed.anonymous_id == message["anonymousId"]
        assert parsed.context is not None
        assert parsed.context.user_agent == message["context"]["userAgent"]
        assert parsed.context.library is not None
        assert len(json.dumps(message).encode()) < MAX_MESSAGE_BYTES
        assert at(message) <= datetime.fromisoformat(message["sentAt"])
        assert message["timestamp"] == message["originalTimestamp"]
        assert message["timestamp"].endswith("Z")
    assert Counter(m["type"] for m in day_messages).keys() == {"page", "track", "identify"}


def test_messages_are_ordered_by_time_and_follow_a_diurnal_curve(day_messages: list[dict[str, Any]]) -> None:
    by_browser: dict[str, list[datetime]] = defaultdict(list)
    for message in day_messages:
        by_browser[message["anonymousId"]].append(at(message))
    assert all(moments == sorted(moments) for moments in by_browser.values())
    times = [at(m) for m in day_messages]
    by_hour = Counter(t.hour for t in times if t.date() == DAY)
    evening = by_hour[19] + by_hour[20] + by_hour[21]
    night = by_hour[2] + by_hour[3] + by_hour[4]
    assert evening > 4 * night > 0


def test_some_visits_run_past_midnight_and_none_start_before_the_day(
    day_messages: list[dict[str, Any]],
) -> None:
    dates = Counter(at(m).date() for m in day_messages)
    assert set(dates) <= {DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)}
    assert dates[DAY + timedelta(days=1)] > 0
    # Only a skewed device clock can put an event before the day.
    assert dates[DAY - timedelta(days=1)] <= dates[DAY + timedelta(days=1)]


def test_the_signup_funnel_narrows_at_every_step(day_messages: list[dict[str, Any]]) -> None:
    home, pricing, signup = (page_views(day_messages, p) for p in ("/", "/pricing", "/signup"))
    signed_up = tracks(day_messages, "Signed Up")
    assert home > pricing > signup > len(signed_up) > 0

    identifies = [m for m in day_messages if m["type"] == "identify"]
    signup_identifies = [m for m in identifies if "plan" in m["traits"]]
    assert len(signup_identifies) == len(signed_up)
    for identify in identifies:
        assert identify["userId"].startswith("usr_")
        assert identify["traits"]["email"].endswith("@example.com")


def test_the_checkout_funnel_narrows_and_orders_carry_revenue(day_messages: list[dict[str, Any]]) -> None:
    steps = ("Product Viewed", "Product Added", "Checkout Started", "Order Completed")
    counts = [len(tracks(day_messages, step)) for step in steps]
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0

    prices = {p.product_id: p.price for p in PRODUCTS}
    for order in tracks(day_messages, "Order Completed"):
        properties = order["properties"]
        expected = sum(prices[item["product_id"]] * item["quantity"] for item in properties["products"])
        assert properties["revenue"] == pytest.approx(expected)
        assert properties["currency"] == "USD"
        assert properties["order_id"].startswith("ord_")


def test_user_ids_appear_only_after_an_identify_of_the_same_browser(
    day_messages: list[dict[str, Any]],
) -> None:
    identified: dict[str, set[str]] = defaultdict(set)
    with_user = 0
    for message in day_messages:
        if message["type"] == "identify":
            identified[message["anonymousId"]].add(message["userId"])
        elif "userId" in message:
            with_user += 1
            assert message["userId"] in identified[message["anonymousId"]]
    assert with_user > 0


def test_there_are_bots_and_all_device_kinds(day_messages: list[dict[str, Any]]) -> None:
    agents = Counter(m["context"]["userAgent"] for m in day_messages)
    bots = {a for a in agents if "bot" in a.lower()}
    assert bots
    assert any("iPhone" in a for a in agents)
    assert any("iPad" in a for a in agents)
    assert any("Windows NT" in a for a in agents)
    bot_messages = [m for m in day_messages if m["context"]["userAgent"] in bots]
    assert {m["type"] for m in bot_messages} == {"page"}
    assert len(bot_messages) < len(day_messages) / 10


def test_campaign_landings_carry_utm_parameters_and_the_campaign_context(
    day_messages: list[dict[str, Any]],
) -> None:
    with_campaign = [m for m in day_messages if "campaign" in m["context"]]
    assert with_campaign
    for message in with_campaign:
        query = parse_qs(urlparse(message["context"]["page"]["url"]).query)
        campaign = message["context"]["campaign"]
        assert query == {
            "utm_source": [campaign["source"]],
            "utm_medium": [campaign["medium"]],
            "utm_campaign": [campaign["name"]],
        }
    assert {m["context"]["campaign"]["medium"] for m in with_campaign} == {
        "cpc",
        "paid_social",
        "email",
        "referral",
    }
    without = [m for m in day_messages if "campaign" not in m["context"]]
    assert all("utm_" not in m["context"]["page"]["url"] for m in without)


def test_referrers_come_from_search_social_email_other_sites_and_direct(
    day_messages: list[dict[str, Any]],
) -> None:
    referrers = Counter(
        urlparse(m["context"]["page"]["referrer"]).hostname or "(direct)"
        for m in day_messages
        if m["type"] == "page"
    )
    for host in ("www.google.com", "www.bing.com", "www.facebook.com", "t.co", "news.ycombinator.com"):
        assert referrers[host] > 0, host
    assert referrers["(direct)"] > 0
    assert referrers["www.example-shop.com"] > referrers["www.google.com"]


def test_visitors_return_within_the_day_after_long_gaps_and_on_later_days(
    day_messages: list[dict[str, Any]],
) -> None:
    times: dict[str, list[datetime]] = defaultdict(list)
    for message in day_messages:
        times[message["anonymousId"]].append(at(message))
    long_gaps = [
        visitor
        for visitor, moments in times.items()
        if any(b - a > timedelta(minutes=30) for a, b in pairwise(moments))
    ]
    assert len(long_gaps) > 50

    tomorrow = {m["anonymousId"] for m in generate_day(DAY + timedelta(days=1), visitors=2000)}
    returning = tomorrow & times.keys()
    assert 0.1 * len(tomorrow) < len(returning) < 0.5 * len(tomorrow)
