import hashlib
import hmac
import json
from datetime import date, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from lakehouse_core.contracts import spark_schema
from lakehouse_core.errors import QualityError
from lakehouse_core.identity import identity_links
from lakehouse_core.ingestion.bronze import BRONZE_SCHEMA
from lakehouse_core.ingestion.quarantine import QUARANTINE_SCHEMA
from lakehouse_core.privacy import subject_key_of
from web_user_analytics.contracts import WebEvent
from web_user_analytics.processing.sessions import sessionise, summarise_sessions
from web_user_analytics.processing.silver import LINK_RULES, to_silver
from web_user_analytics.storage.tables import SILVER_EVENTS

pytestmark = pytest.mark.unit

KEY = b"test-pseudonymisation-key"
PLATFORM_KEY = b"test-platform-subject-key"
TOPIC = "web.events.v1"
EMAIL = "ada.lovelace@example.com"
USER_ID = "user-4711"
ANONYMOUS_ID = "anon-9f3c"
IP = "203.0.113.57"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)

TRACK = {
    "type": "track",
    "messageId": "m-track",
    "userId": USER_ID,
    "anonymousId": ANONYMOUS_ID,
    "event": "Order Completed",
    "properties": {"revenue": 42.5, "email": EMAIL, "currency": "EUR"},
    "traits": {"email": EMAIL, "plan": "pro"},
    "originalTimestamp": "2024-03-10T09:59:00Z",
    "sentAt": "2024-03-10T10:00:00Z",
    "receivedAt": "2024-03-10T10:00:30Z",
    "context": {
        "ip": IP,
        "userAgent": CHROME_MAC,
        "page": {
            "url": "https://www.shop.example/checkout?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
            "referrer": "https://mail.google.com/",
            "title": "Checkout",
        },
        "location": {"country": "FR"},
    },
}
PAGE = {
    "type": "page",
    "messageId": "m-page",
    "anonymousId": ANONYMOUS_ID,
    "name": "Pricing",
    "properties": {"path": "/pricing", "url": "https://shop.example/pricing", "referrer": ""},
    "timestamp": "2024-03-09T23:59:59Z",
    "receivedAt": "2024-03-10T00:00:01Z",
    "context": {
        "ip": "2001:db8:85a3::8a2e:370:7334",
        "traits": {"first_name": "Ada", "company": "Analytical Engines"},
        "campaign": {"source": "google", "medium": "cpc", "name": "brand"},
    },
}
IDENTIFY = {
    "type": "identify",
    "messageId": "m-identify",
    "userId": USER_ID,
    "traits": {"Email": EMAIL, "LAST_NAME": "Lovelace", "plan": "pro"},
    "receivedAt": "2024-03-10T10:01:00Z",
}


def bronze(spark: SparkSession, values: list[str]) -> DataFrame:
    rows = [
        (
            None,
            value,
            TOPIC,
            0,
            offset,
            datetime(2024, 3, 10, 10, 1),
            datetime(2024, 3, 10, 10, 2),
            date(2024, 3, 10),
            None,
        )
        for offset, value in enumerate(values)
    ]
    return spark.createDataFrame(rows, BRONZE_SCHEMA)


def types_of(schema: StructType) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def with_(message: dict[str, Any], **changes: Any) -> str:
    changed = {**message, **changes}
    return json.dumps({k: v for k, v in changed.items() if v is not None})


def pseudonym(clear: str) -> str:
    return hmac.new(KEY, clear.encode(), hashlib.sha256).hexdigest()


MALFORMED = [
    ('{"type": "track", "messageId": ', ["valid_json"]),
    (with_(TRACK, messageId="m-ids", userId=None, anonymousId=None), ["has_user_or_anonymous_id"]),
    (with_(TRACK, messageId=None), ["has_message_id"]),
    (with_(TRACK, messageId="m-type", type="purchase"), ["known_type"]),
    (with_(TRACK, messageId="m-wrong", receivedAt=["not", "a", "time"]), ["matches_message_schema"]),
    (
        with_(TRACK, messageId="m-future", sentAt=None, originalTimestamp="2024-03-12T10:00:31Z"),
        ["event_time_plausible"],
    ),
    (with_(TRACK, messageId="m-noname", event=None), ["track_has_event_name"]),
    (with_(TRACK, messageId="m-nul", event="Order\u0000Completed"), ["name_has_no_control_characters"]),
]


def test_valid_rows_become_pseudonymised_enriched_events(spark: SparkSession) -> None:
    batch = to_silver(
        bronze(spark, [json.dumps(TRACK), json.dumps(PAGE), json.dumps(IDENTIFY)]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )

    assert types_of(batch.events.schema) == types_of(spark_schema(WebEvent))
    events = {r.event_id: r.asDict() for r in batch.events.collect()}
    track = events["m-track"]
    assert json.loads(track.pop("properties_json")) == {"revenue": 42.5, "currency": "EUR"}
    assert json.loads(track.pop("traits_json")) == {"plan": "pro"}
    assert track == {
        "event_id": "m-track",
        "event_type": "track",
        "event_name": "Order Completed",
        "visitor_id": pseudonym(USER_ID),
        "event_ts": datetime(2024, 3, 10, 9, 59, 30),
        "received_at": datetime(2024, 3, 10, 10, 0, 30),
        "event_date": date(2024, 3, 10),
        "session_id": None,
        "page_url": "https://www.shop.example/checkout?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
        "page_host": "shop.example",
        "page_path": "/checkout",
        "page_query": "utm_source=newsletter&utm_medium=email&utm_campaign=spring",
        "page_title": "Checkout",
        "referrer_host": "mail.google.com",
        "referrer_class": "email",
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring",
        "utm_term": None,
        "utm_content": None,
        "browser": "Chrome",
        "os": "macOS",
        "device_type": "desktop",
        "is_bot": False,
        "ip_truncated": "203.0.113.0",
        "country": "FR",
        "previous_id": None,
        "group_id": None,
        "imported": False,
        "source_partition": 0,
        "source_offset": 0,
        "anonymous_id": pseudonym(ANONYMOUS_ID),
        "subject_key": hmac.new(PLATFORM_KEY, USER_ID.encode(), hashlib.sha256).hexdigest(),
    }
    page = events["m-page"]
    assert (page["event_name"], page["visitor_id"], page["event_ts"], page["event_date"]) == (
        "Pricing",
        pseudonym(ANONYMOUS_ID),
        datetime(2024, 3, 9, 23, 59, 59),
        date(2024, 3, 9),
    )
    assert (page["page_url"], page["page_host"], page["page_path"], page["referrer_class"]) == (
        "https://shop.example/pricing",
        "shop.example",
        "/pricing",
        "direct",
    )
    assert (page["utm_source"], page["utm_medium"], page["utm_campaign"]) == ("google", "cpc", "brand")
    assert (page["ip_truncated"], page["device_type"], page["browser"], page["is_bot"]) == (
        "2001:db8:85a3::",
        "other",
        None,
        False,
    )
    assert json.loads(page["traits_json"]) == {"company": "Analytical Engines"}
    identify = events["m-identify"]
    assert (identify["event_name"], identify["visitor_id"], identify["page_path"]) == (
        None,
        pseudonym(USER_ID),
        None,
    )
    assert json.loads(identify["traits_json"]) == {"plan": "pro"}
    assert batch.quarantine.count() == 0


def test_no_personal_data_reaches_silver_events(spark: SparkSession) -> None:
    batch = to_silver(
        bronze(spark, [json.dumps(TRACK), json.dumps(PAGE), json.dumps(IDENTIFY)]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )

    cells = [str(value) for row in batch.events.collect() for value in row]
    for secret in (EMAIL, USER_ID, ANONYMOUS_ID, IP, "Lovelace", 'Ada"'):
        assert not [cell for cell in cells if secret in cell], secret


def test_each_malformed_class_is_quarantined_with_its_rule(spark: SparkSession) -> None:
    values = [with_(TRACK, messageId=f"ok-{i}") for i in range(8)] + [raw for raw, _ in MALFORMED]

    batch = to_silver(
        bronze(spark, values),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )

    assert types_of(batch.quarantine.schema) == types_of(QUARANTINE_SCHEMA)
    quarantined = {r.source_offset: r for r in batch.quarantine.collect()}
    assert {offset: list(r.failed_rules) for offset, r in quarantined.items()} == {
        8 + i: rules for i, (_, rules) in enumerate(MALFORMED)
    }
    assert all(r.raw_value == values[offset] and r.source_topic == TOPIC for offset, r in quarantined.items())
    assert quarantined[8].event_id is None
    assert quarantined[11].event_id == "m-type"
    assert quarantined[8].reason == "web_events: valid_json: the value is not a JSON object"
    assert quarantined[13].reason == (
        "web_events: event_time_plausible: the event time is more than 1 day after or more than "
        "400 days before receivedAt (3650 days for imported history)"
    )
    assert quarantined[15].reason == (
        "web_events: name_has_no_control_characters: the event name or page/screen name holds a "
        "control character (U+0000-U+001F, U+007F-U+009F)"
    )
    assert sorted(r.event_id for r in batch.events.collect()) == [f"ok-{i}" for i in range(8)]


def test_systemic_breakage_raises_instead_of_quarantining(spark: SparkSession) -> None:
    values = [json.dumps(TRACK), "garbage", "more garbage"]

    with pytest.raises(QualityError, match="2 of 3 rows quarantined"):
        to_silver(
            bronze(spark, values),
            pseudonymisation_key=KEY,
            platform_key=PLATFORM_KEY,
            max_quarantine_fraction=0.5,
        )


ALIAS = {
    "type": "alias",
    "messageId": "m-alias",
    "userId": USER_ID,
    "previousId": ANONYMOUS_ID,
    "receivedAt": "2024-03-10T10:02:00Z",
}
GROUP = {
    "type": "group",
    "messageId": "m-group",
    "userId": USER_ID,
    "groupId": "acct-77",
    "traits": {"name": "Analytical Engines Ltd", "industry": "Computing", "employees": 12, "email": EMAIL},
    "receivedAt": "2024-03-10T10:03:00Z",
}


def test_alias_and_group_ids_are_kept_pseudonymised_with_the_company_traits(spark: SparkSession) -> None:
    batch = to_silver(
        bronze(spark, [json.dumps(ALIAS), json.dumps(GROUP), json.dumps(TRACK)]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )

    events = {r.event_id: r for r in batch.events.collect()}
    alias, group, track = events["m-alias"], events["m-group"], events["m-track"]
    assert (alias.visitor_id, alias.previous_id, alias.group_id) == (
        pseudonym(USER_ID),
        pseudonym(ANONYMOUS_ID),
        None,
    )
    assert (group.group_id, group.previous_id) == (pseudonym("acct-77"), None)
    assert json.loads(group.traits_json) == {
        "name": "Analytical Engines Ltd",
        "industry": "Computing",
        "employees": 12,
    }
    assert (track.previous_id, track.group_id) == (None, None)


def test_imported_history_is_marked_and_judged_by_the_import_window(spark: SparkSession) -> None:
    two_years_ago = with_(TRACK, messageId="m-old", sentAt=None, originalTimestamp="2022-03-01T09:00:00Z")
    imported = json.dumps(
        {**json.loads(two_years_ago), "messageId": "m-imported", "_import": {"source": "a.jsonl"}}
    )

    batch = to_silver(
        bronze(spark, [two_years_ago, imported]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )

    assert [(r.event_id, r.imported, r.event_date) for r in batch.events.collect()] == [
        ("m-imported", True, date(2022, 3, 1))
    ]
    assert [(r.event_id, list(r.failed_rules)) for r in batch.quarantine.collect()] == [
        ("m-old", ["event_time_plausible"])
    ]


def test_numeric_ids_become_the_same_pseudonym_as_their_text(spark: SparkSession) -> None:
    raw = json.dumps({**TRACK, "userId": 4711})

    batch = to_silver(
        bronze(spark, [raw]), pseudonymisation_key=KEY, platform_key=PLATFORM_KEY, max_quarantine_fraction=0.5
    )

    assert [r.visitor_id for r in batch.events.collect()] == [pseudonym("4711")]


def test_the_subject_key_is_the_platform_keyed_user_id_and_null_for_anonymous_events(
    spark: SparkSession,
) -> None:
    batch = to_silver(
        bronze(spark, [json.dumps(TRACK), json.dumps(PAGE)]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )
    events = {r.event_id: r for r in batch.events.collect()}
    track, page = events["m-track"], events["m-page"]

    assert track.subject_key == hmac.new(PLATFORM_KEY, USER_ID.encode(), hashlib.sha256).hexdigest()
    assert track.subject_key not in {track.visitor_id, track.anonymous_id, pseudonym(USER_ID)}
    assert (track.visitor_id, track.anonymous_id) == (pseudonym(USER_ID), pseudonym(ANONYMOUS_ID))
    assert (page.subject_key, page.anonymous_id) == (None, pseudonym(ANONYMOUS_ID))
    sessions = summarise_sessions(sessionise(batch.events, inactivity_minutes=30)).collect()
    assert {(s.visitor_id, s.subject_key) for s in sessions} == {
        (pseudonym(USER_ID), track.subject_key),
        (pseudonym(ANONYMOUS_ID), None),
    }


def test_identify_and_alias_calls_link_web_ids_to_the_subject_once(spark: SparkSession) -> None:
    identify = with_(IDENTIFY, anonymousId=ANONYMOUS_ID)
    batch = to_silver(
        bronze(spark, [identify, json.dumps(ALIAS), json.dumps(TRACK), json.dumps(PAGE)]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )
    subject = subject_key_of(USER_ID, PLATFORM_KEY)

    links = identity_links(
        batch.events.unionByName(batch.events), LINK_RULES, source_table=SILVER_EVENTS.qualified_name
    )

    assert sorted(
        (r.subject_key, r.linked_id, r.link_kind, r.event_id, r.source_table) for r in links.collect()
    ) == [
        (subject, pseudonym(ANONYMOUS_ID), "alias", "m-alias", "web-user-analytics.silver.events"),
        (subject, pseudonym(ANONYMOUS_ID), "identify", "m-identify", "web-user-analytics.silver.events"),
    ]


def consent(**preferences: bool) -> dict[str, Any]:
    return {**TRACK["context"], "consent": {"categoryPreferences": preferences}}


def test_an_event_whose_consent_withholds_analytics_is_excluded_and_accounted_without_its_payload(
    spark: SparkSession,
) -> None:
    values = [
        with_(TRACK, messageId="m-consented", context=consent(Analytics=True, Advertising=False)),
        with_(TRACK, messageId="m-withheld", context=consent(Analytics=False, Advertising=True)),
        with_(TRACK, messageId="m-lower", context=consent(analytics=False)),
        with_(TRACK, messageId="m-other-categories", context=consent(Advertising=False)),
        with_(TRACK, messageId="m-no-consent"),
        with_(TRACK, messageId=None, context=consent(Analytics=False)),
    ]

    batch = to_silver(
        bronze(spark, values),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.2,
    )

    assert sorted(r.event_id for r in batch.events.collect()) == [
        "m-consented",
        "m-no-consent",
        "m-other-categories",
    ]
    quarantined = {r.source_offset: r for r in batch.quarantine.collect()}
    assert {o: (r.event_id, list(r.failed_rules)) for o, r in quarantined.items()} == {
        1: ("m-withheld", ["analytics_consent_withdrawn"]),
        2: ("m-lower", ["analytics_consent_withdrawn"]),
        5: (None, ["has_message_id"]),
    }
    assert quarantined[1].raw_value == quarantined[2].raw_value == ""
    assert quarantined[1].reason.startswith("web_events: analytics_consent_withdrawn: the event's consent")
    assert types_of(batch.quarantine.schema) == types_of(QUARANTINE_SCHEMA)
