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
from lakehouse_core.ingestion.deduplication import DUPLICATE_OF_OFFSET, split_duplicates
from lakehouse_core.ingestion.quarantine import QUARANTINE_SCHEMA
from lakehouse_core.privacy import subject_key_of
from mobile_user_analytics.contracts import MobileEvent
from mobile_user_analytics.processing.sessions import screen_views, sessionise, summarise_sessions
from mobile_user_analytics.processing.silver import LINK_RULES, to_silver
from mobile_user_analytics.storage.tables import SILVER_EVENTS

pytestmark = pytest.mark.unit

KEY = b"test-pseudonymisation-key"
PLATFORM_KEY = b"test-platform-subject-key"
TOPIC = "mobile.events.v1"
EMAIL = "grace.hopper@example.com"
USER_ID = "user-1906"
ANONYMOUS_ID = "anon-7c21"
DEVICE_ID = "F2A9C1D0-5E7B-4C1A-9A3E-1B2C3D4E5F60"
ADVERTISING_ID = "ad-38400000-8cf0-11bd"

OPENED = {
    "type": "track",
    "messageId": "m-opened",
    "userId": USER_ID,
    "anonymousId": ANONYMOUS_ID,
    "event": "Application Opened",
    "properties": {"from_background": False, "email": EMAIL, "Phone": "+49 30 1234567"},
    "originalTimestamp": "2024-03-10T09:59:00Z",
    "sentAt": "2024-03-10T10:00:00Z",
    "receivedAt": "2024-03-10T10:00:30Z",
    "context": {
        "ip": "203.0.113.57",
        "app": {"name": "Shop", "version": "2.3.0", "build": "230", "namespace": "com.example.shop"},
        "device": {
            "id": DEVICE_ID,
            "advertisingId": ADVERTISING_ID,
            "manufacturer": "Apple",
            "model": "iPhone15,2",
            "type": "ios",
        },
        "os": {"name": "iOS", "version": "17.4"},
        "network": {"wifi": True, "carrier": "T-Mobile", "cellular": False},
        "screen": {"width": 1179, "height": 2556, "density": 3.0},
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "location": {"country": "DE"},
        "traits": {"email": EMAIL},
    },
}
SCREEN = {
    "type": "screen",
    "messageId": "m-screen",
    "anonymousId": ANONYMOUS_ID,
    "name": "Home",
    "properties": {"tab": "featured"},
    "timestamp": "2024-03-10T10:05:00Z",
    "receivedAt": "2024-03-10T10:05:01Z",
    "context": {"app": {"version": "1.0.4"}, "os": {"name": "Android", "version": "14"}},
}
UPDATED = {
    "type": "track",
    "messageId": "m-updated",
    "userId": USER_ID,
    "event": "Application Updated",
    "properties": {"previous_version": "2.2.1", "previous_build": "221", "version": "2.3.0"},
    "timestamp": "2024-03-10T10:06:00Z",
    "receivedAt": "2024-03-10T10:06:00Z",
    "context": {"app": {"version": "2.3.0"}, "os": {"name": "iPadOS", "version": "17.4"}},
}
CART = {
    "type": "track",
    "messageId": "m-cart",
    "anonymousId": ANONYMOUS_ID,
    "event": "Product Added",
    "properties": {"previous_version": "not-an-update", "sku": "A-1"},
    "timestamp": "2024-03-10T10:07:00Z",
    "receivedAt": "2024-03-10T10:07:00Z",
    "context": {"device": {"id": "  "}, "os": {"name": "HarmonyOS"}},
}
IDENTIFY = {
    "type": "identify",
    "messageId": "m-identify",
    "userId": USER_ID,
    "anonymousId": ANONYMOUS_ID,
    "traits": {"email": EMAIL, "name": "Grace Hopper", "plan": "pro"},
    "receivedAt": "2024-03-10T10:08:00Z",
    "context": {"device": {"id": DEVICE_ID}},
}


def bronze(spark: SparkSession, values: list[str], *, first_offset: int = 0) -> DataFrame:
    rows = [
        (
            None,
            value,
            TOPIC,
            0,
            first_offset + i,
            datetime(2024, 3, 10, 10, 9),
            datetime(2024, 3, 10, 10, 10),
            date(2024, 3, 10),
            None,
        )
        for i, value in enumerate(values)
    ]
    return spark.createDataFrame(rows, BRONZE_SCHEMA)


def types_of(schema: StructType) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def with_(message: dict[str, Any], **changes: Any) -> str:
    changed = {**message, **changes}
    return json.dumps({k: v for k, v in changed.items() if v is not None})


def pseudonym(clear: str) -> str:
    return hmac.new(KEY, clear.encode(), hashlib.sha256).hexdigest()


def silver(spark: SparkSession, messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    batch = to_silver(
        bronze(spark, [json.dumps(m) for m in messages]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )
    assert types_of(batch.events.schema) == types_of(spark_schema(MobileEvent))
    assert batch.quarantine.count() == 0
    return {r.event_id: r.asDict() for r in batch.events.collect()}


MALFORMED = [
    ('{"type": "track", "messageId": ', ["valid_json"]),
    (with_(OPENED, messageId="m-wrong", receivedAt=["not", "a", "time"]), ["matches_message_schema"]),
    (with_(OPENED, messageId=None), ["has_message_id"]),
    (with_(OPENED, messageId="m-ids", userId=None, anonymousId=" "), ["has_user_or_anonymous_id"]),
    (with_(OPENED, messageId="m-type", type="purchase"), ["known_type"]),
    (with_(OPENED, messageId="m-noname", event=""), ["track_has_event_name"]),
    (with_(OPENED, messageId="m-alias", type="alias"), ["alias_has_previous_id"]),
    (with_(OPENED, messageId="m-group", type="group"), ["group_has_group_id"]),
    (with_(OPENED, messageId="m-received", receivedAt=None), ["has_received_at"]),
    (
        with_(OPENED, messageId="m-future", sentAt=None, originalTimestamp="2024-03-12T10:00:31Z"),
        ["event_time_plausible"],
    ),
    (with_(SCREEN, messageId="m-esc", name="Home\u001b"), ["name_has_no_control_characters"]),
]


def test_valid_rows_become_pseudonymised_mobile_events(spark: SparkSession) -> None:
    events = silver(spark, [OPENED, SCREEN, UPDATED, CART, IDENTIFY])

    opened = events["m-opened"]
    assert json.loads(opened.pop("properties_json")) == {"from_background": False}
    assert opened == {
        "event_id": "m-opened",
        "event_type": "track",
        "event_name": "Application Opened",
        "device_key": pseudonym(DEVICE_ID),
        "user_key": pseudonym(USER_ID),
        "event_ts": datetime(2024, 3, 10, 9, 59, 30),
        "received_at": datetime(2024, 3, 10, 10, 0, 30),
        "event_date": date(2024, 3, 10),
        "session_id": None,
        "lifecycle": "opened",
        "screen_name": None,
        "app_name": "Shop",
        "app_version": "2.3.0",
        "app_build": "230",
        "previous_app_version": None,
        "platform": "ios",
        "os_version": "17.4",
        "device_manufacturer": "Apple",
        "device_model": "iPhone15,2",
        "device_type": "ios",
        "network_wifi": True,
        "network_carrier": "T-Mobile",
        "screen_width": 1179,
        "screen_height": 2556,
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "country": "DE",
        "traits_json": "{}",
        "previous_id": None,
        "group_id": None,
        "imported": False,
        "source_partition": 0,
        "source_offset": 0,
        "subject_key": hmac.new(PLATFORM_KEY, USER_ID.encode(), hashlib.sha256).hexdigest(),
    }
    screen = events["m-screen"]
    assert {k: screen[k] for k in ("event_type", "event_name", "screen_name", "lifecycle")} == {
        "event_type": "screen",
        "event_name": "Home",
        "screen_name": "Home",
        "lifecycle": None,
    }
    assert (screen["device_key"], screen["user_key"], screen["platform"], screen["app_version"]) == (
        pseudonym(ANONYMOUS_ID),
        None,
        "android",
        "1.0.4",
    )
    assert (screen["event_ts"], json.loads(screen["properties_json"])) == (
        datetime(2024, 3, 10, 10, 5),
        {"tab": "featured"},
    )
    updated = events["m-updated"]
    assert (
        updated["device_key"],
        updated["lifecycle"],
        updated["previous_app_version"],
        updated["platform"],
    ) == (
        pseudonym(USER_ID),
        "updated",
        "2.2.1",
        "ios",
    )
    cart = events["m-cart"]
    assert (cart["device_key"], cart["lifecycle"], cart["previous_app_version"], cart["platform"]) == (
        pseudonym(ANONYMOUS_ID),
        None,
        None,
        "other",
    )
    identify = events["m-identify"]
    assert (identify["event_name"], identify["lifecycle"], identify["device_key"], identify["platform"]) == (
        None,
        None,
        pseudonym(DEVICE_ID),
        "other",
    )
    assert identify["properties_json"] is None
    assert json.loads(identify["traits_json"]) == {"plan": "pro"}


def test_a_batch_landing_days_late_keeps_the_devices_skew_corrected_day(spark: SparkSession) -> None:
    late = with_(
        OPENED,
        messageId="m-late",
        originalTimestamp="2024-03-08T01:00:00Z",
        sentAt="2024-03-10T12:00:00Z",
        receivedAt="2024-03-10T10:00:00Z",
    )

    events = silver(spark, [json.loads(late)])

    assert (events["m-late"]["event_ts"], events["m-late"]["event_date"]) == (
        datetime(2024, 3, 7, 23, 0),
        date(2024, 3, 7),
    )


def test_no_clear_identifier_or_email_reaches_any_silver_table(spark: SparkSession) -> None:
    batch = to_silver(
        bronze(spark, [json.dumps(m) for m in (OPENED, SCREEN, UPDATED, CART, IDENTIFY)]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )
    with_sessions = sessionise(batch.events, inactivity_minutes=30)

    tables = [with_sessions, summarise_sessions(with_sessions), screen_views(with_sessions)]
    cells = [str(value) for table in tables for row in table.collect() for value in row]
    assert len(cells) > 0
    for secret in (EMAIL, USER_ID, ANONYMOUS_ID, DEVICE_ID, ADVERTISING_ID, "203.0.113", "Grace", "1234567"):
        assert not [cell for cell in cells if secret in cell], secret


def test_each_malformed_class_is_quarantined_with_its_rule(spark: SparkSession) -> None:
    values = [with_(SCREEN, messageId=f"ok-{i}") for i in range(12)] + [raw for raw, _ in MALFORMED]

    batch = to_silver(
        bronze(spark, values),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )

    assert types_of(batch.quarantine.schema) == types_of(QUARANTINE_SCHEMA)
    quarantined = {r.source_offset: r for r in batch.quarantine.collect()}
    assert {offset: list(r.failed_rules) for offset, r in quarantined.items()} == {
        12 + i: rules for i, (_, rules) in enumerate(MALFORMED)
    }
    assert all(r.raw_value == values[offset] and r.source_topic == TOPIC for offset, r in quarantined.items())
    assert (quarantined[12].event_id, quarantined[16].event_id) == (None, "m-type")
    assert quarantined[12].reason == "mobile_events: valid_json: the value is not a JSON object"
    assert quarantined[18].reason == "mobile_events: alias_has_previous_id: an alias call without previousId"
    assert sorted(r.event_id for r in batch.events.collect()) == sorted(f"ok-{i}" for i in range(12))


def test_systemic_breakage_raises_instead_of_quarantining(spark: SparkSession) -> None:
    with pytest.raises(QualityError, match="mobile_events: 2 of 3 rows quarantined"):
        to_silver(
            bronze(spark, [json.dumps(SCREEN), "garbage", "[1, 2]"]),
            pseudonymisation_key=KEY,
            platform_key=PLATFORM_KEY,
            max_quarantine_fraction=0.5,
        )


def test_duplicates_of_a_batch_and_of_stored_events_are_split_off(spark: SparkSession) -> None:
    stored = to_silver(
        bronze(spark, [json.dumps(UPDATED)], first_offset=7),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    ).events
    batch = to_silver(
        bronze(spark, [json.dumps(SCREEN), json.dumps(SCREEN), json.dumps(UPDATED), json.dumps(CART)]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    ).events

    new, duplicates = split_duplicates(batch, stored)

    assert sorted((r.event_id, r.source_offset) for r in new.collect()) == [("m-cart", 3), ("m-screen", 0)]
    assert sorted((r.event_id, r.source_offset, r[DUPLICATE_OF_OFFSET]) for r in duplicates.collect()) == [
        ("m-screen", 1, 0),
        ("m-updated", 2, 7),
    ]


def test_alias_and_group_ids_are_kept_pseudonymised_with_the_company_traits(spark: SparkSession) -> None:
    alias = {**IDENTIFY, "type": "alias", "messageId": "m-alias", "previousId": ANONYMOUS_ID, "traits": None}
    group = {
        **IDENTIFY,
        "type": "group",
        "messageId": "m-group",
        "groupId": 31337,
        "traits": {"name": "Hopper Labs", "plan": "team", "employees": 8, "phone": "+1 555 0199"},
    }

    events = silver(spark, [alias, group])

    assert (events["m-alias"]["previous_id"], events["m-alias"]["group_id"]) == (
        pseudonym(ANONYMOUS_ID),
        None,
    )
    assert (events["m-group"]["group_id"], events["m-group"]["previous_id"]) == (pseudonym("31337"), None)
    assert json.loads(events["m-group"]["traits_json"]) == {
        "name": "Hopper Labs",
        "plan": "team",
        "employees": 8,
    }


def test_imported_history_is_marked_and_kept(spark: SparkSession) -> None:
    old = {**SCREEN, "messageId": "m-2022", "timestamp": "2022-02-01T08:00:00Z", "sentAt": None}
    imported = {**old, "messageId": "m-imported", "_import": {"source": "export.jsonl.gz"}}

    batch = to_silver(
        bronze(spark, [json.dumps({k: v for k, v in m.items() if v is not None}) for m in (old, imported)]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )

    assert [(r.event_id, r.imported, r.event_date) for r in batch.events.collect()] == [
        ("m-imported", True, date(2022, 2, 1))
    ]
    assert [list(r.failed_rules) for r in batch.quarantine.collect()] == [["event_time_plausible"]]


def test_the_subject_key_is_the_platform_keyed_user_id_not_the_products_user_key(spark: SparkSession) -> None:
    anonymous = {**CART, "messageId": "m-anonymous", "userId": None}
    events = silver(spark, [OPENED, anonymous])
    opened, cart = events[OPENED["messageId"]], events["m-anonymous"]

    assert opened["subject_key"] == hmac.new(PLATFORM_KEY, USER_ID.encode(), hashlib.sha256).hexdigest()
    assert opened["user_key"] == pseudonym(USER_ID) != opened["subject_key"]
    assert opened["subject_key"] != opened["device_key"]
    assert cart["subject_key"] is None


def test_a_sign_in_links_the_device_to_the_subject_once(spark: SparkSession) -> None:
    alias = {**IDENTIFY, "type": "alias", "messageId": "m-alias", "previousId": ANONYMOUS_ID, "traits": None}
    batch = to_silver(
        bronze(spark, [json.dumps(m) for m in (IDENTIFY, alias, OPENED)]),
        pseudonymisation_key=KEY,
        platform_key=PLATFORM_KEY,
        max_quarantine_fraction=0.5,
    )
    subject = subject_key_of(USER_ID, PLATFORM_KEY)

    links = identity_links(
        batch.events.unionByName(batch.events), LINK_RULES, source_table=SILVER_EVENTS.qualified_name
    )

    assert sorted(
        (r.link_kind, r.subject_key, r.linked_id, r.linked_id_kind, r.event_id) for r in links.collect()
    ) == [
        ("alias", subject, pseudonym(ANONYMOUS_ID), "pseudonymous_id", "m-alias"),
        ("sign_in", subject, pseudonym(DEVICE_ID), "device_id", "m-identify"),
    ]
