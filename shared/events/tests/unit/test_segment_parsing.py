import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse_core.quality.runner import FAILED_RULES, ExpectationSuite, annotate
from lakehouse_events.segment import SegmentMessage, corrected_timestamp
from lakehouse_events.segment_parsing import (
    EVENT_TS,
    IS_JSON_OBJECT,
    MATCHES_SCHEMA,
    MESSAGE,
    MESSAGE_SCHEMA,
    RULE_DESCRIPTIONS,
    EventTimeWindow,
    describe_failures,
    is_imported,
    kept_traits,
    message_expectations,
    parse_messages,
    rule_descriptions,
)

pytestmark = pytest.mark.unit

RECEIVED = "2024-03-10T12:00:00Z"


def message(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "track",
        "messageId": "m-1",
        "anonymousId": "anon-1",
        "event": "Signed Up",
        "receivedAt": RECEIVED,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_schema_is_derived_from_collected_message() -> None:
    fields = {f.name: f for f in MESSAGE_SCHEMA.fields}

    assert fields["messageId"].dataType == T.StringType()
    assert fields["receivedAt"].dataType == T.TimestampType()
    assert fields["properties"].dataType == T.StringType()
    assert fields["traits"].dataType == T.StringType()
    context = fields["context"].dataType
    assert isinstance(context, T.StructType)
    assert context["userAgent"].dataType == T.StringType()
    assert context["traits"].dataType == T.StringType()
    assert context["screen"].dataType["width"].dataType == T.LongType()  # type: ignore[index]
    assert all(f.nullable for f in MESSAGE_SCHEMA.fields)


def test_parse_reads_typed_fields_and_keeps_objects_as_json_text(spark: SparkSession) -> None:
    raw = json.dumps(
        message(
            properties={"plan": "pro", "seats": 3},
            context={"page": {"url": "https://shop.example/a?x=1"}, "location": {"country": "FR"}},
        )
    )
    row = parse_messages(spark.createDataFrame([(raw,)], "value string")).first()

    assert row is not None
    assert row[IS_JSON_OBJECT] is True
    assert row[MATCHES_SCHEMA] is True
    parsed = row[MESSAGE]
    assert (parsed.type, parsed.messageId, parsed.anonymousId, parsed.event) == (
        "track",
        "m-1",
        "anon-1",
        "Signed Up",
    )
    assert json.loads(parsed.properties) == {"plan": "pro", "seats": 3}
    assert parsed.context.page.url == "https://shop.example/a?x=1"
    assert parsed.context.location.country == "FR"
    assert parsed.receivedAt == datetime(2024, 3, 10, 12, 0)


TIME_CASES = [
    {"sentAt": "2024-03-10T12:05:00Z", "originalTimestamp": "2024-03-10T12:04:00Z"},
    {"sentAt": "2024-03-10T11:00:00Z", "timestamp": "2024-03-10T10:59:30.250Z"},
    {
        "sentAt": "2024-03-10T12:00:10Z",
        "timestamp": "2024-03-10T12:00:09Z",
        "originalTimestamp": "2024-03-10T11:59:00Z",
    },
    {"timestamp": "2024-03-09T08:00:00+02:00"},
    {"sentAt": "2024-03-10T12:00:05Z"},
    {},
]
EXPECTED_TIMES = [
    datetime(2024, 3, 10, 11, 59),
    datetime(2024, 3, 10, 11, 59, 30, 250000),
    datetime(2024, 3, 10, 11, 58, 50),
    datetime(2024, 3, 9, 6, 0),
    datetime(2024, 3, 10, 12, 0),
    datetime(2024, 3, 10, 12, 0),
]


def test_event_time_is_skew_corrected_like_the_python_rule(spark: SparkSession) -> None:
    raws = [(json.dumps(message(**times)),) for times in TIME_CASES]

    got = [r[EVENT_TS] for r in parse_messages(spark.createDataFrame(raws, "value string")).collect()]

    received = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
    python = [
        corrected_timestamp(SegmentMessage.model_validate(message(**times)), received).astimezone(UTC)
        for times in TIME_CASES
    ]
    assert got == EXPECTED_TIMES
    assert [t.replace(tzinfo=None) for t in python] == EXPECTED_TIMES


QUARANTINE_CASES = [
    ("not json at all", ["valid_json"]),
    ("[1, 2, 3]", ["valid_json"]),
    (json.dumps(message(timestamp="yesterday-ish")), ["matches_message_schema"]),
    (json.dumps(message(context="a string, not an object")), ["matches_message_schema"]),
    (json.dumps(message(messageId=None)), ["has_message_id"]),
    (json.dumps(message(messageId="  ")), ["has_message_id"]),
    (json.dumps(message(anonymousId=None)), ["has_user_or_anonymous_id"]),
    (json.dumps(message(anonymousId="caf\ufffd"), ensure_ascii=False), ["valid_utf8"]),
    (json.dumps(message(type="purchase")), ["known_type"]),
    (json.dumps(message(event=None)), ["track_has_event_name"]),
    (json.dumps(message(type="alias", event=None, userId="u-1")), ["alias_has_previous_id"]),
    (json.dumps(message(type="group", event=None)), ["group_has_group_id"]),
    (json.dumps(message(receivedAt=None, timestamp="2024-03-10T11:00:00Z")), ["has_received_at"]),
    (json.dumps(message(timestamp="2024-03-12T12:00:01Z")), ["event_time_plausible"]),
    (json.dumps(message(timestamp="2023-02-03T11:59:59Z")), ["event_time_plausible"]),
    (json.dumps(message(timestamp="2024-03-11T11:59:59Z")), []),
    (json.dumps(message(type="page", event=None, userId="u-1", anonymousId=None)), []),
    (json.dumps(message(type="alias", event=None, userId="u-1", previousId="anon-1")), []),
    (json.dumps(message(userId=12345)), []),
    (json.dumps(message(event="Signed\u0000Up")), ["name_has_no_control_characters"]),
    (json.dumps(message(type="page", event=None, name="Home\u001b[2J")), ["name_has_no_control_characters"]),
    (json.dumps(message(type="screen", event=None, name="Feed\u0085")), ["name_has_no_control_characters"]),
    (json.dumps(message(type="page", event=None, name="Café ☕"), ensure_ascii=False), []),
    (json.dumps(message(timestamp="2022-03-10T12:00:00Z", _import={"source": "old.jsonl"})), []),
    (
        json.dumps(message(timestamp="2014-03-12T12:00:00Z", _import={"source": "old.jsonl"})),
        ["event_time_plausible"],
    ),
    (
        json.dumps(message(timestamp="2024-03-11T12:00:01Z", _import={"source": "old.jsonl"})),
        ["event_time_plausible"],
    ),
    ("{}", ["has_message_id", "has_user_or_anonymous_id", "known_type", "has_received_at"]),
]


def test_each_malformed_class_fails_its_named_rule(spark: SparkSession) -> None:
    raws = spark.createDataFrame(
        [(i, raw) for i, (raw, _) in enumerate(QUARANTINE_CASES)], "i int, value string"
    )
    suite = ExpectationSuite(name="messages", expectations=message_expectations())

    rows = annotate(parse_messages(raws), suite).orderBy("i").collect()

    assert [list(r[FAILED_RULES]) for r in rows] == [rules for _, rules in QUARANTINE_CASES]


def test_the_plausibility_window_is_configuration(spark: SparkSession) -> None:
    window = EventTimeWindow(
        max_days_before_received=10, max_seconds_after_received=60, imported_max_days_before_received=20
    )
    cases = [
        (message(timestamp="2024-02-29T11:59:59Z"), ["event_time_plausible"]),
        (message(timestamp="2024-02-29T12:00:01Z"), []),
        (message(timestamp="2024-03-10T12:01:01Z"), ["event_time_plausible"]),
        (message(timestamp="2024-03-10T12:00:59Z"), []),
        (message(timestamp="2024-02-19T12:00:01Z", _import={}), []),
        (message(timestamp="2024-02-19T11:59:59Z", _import={}), ["event_time_plausible"]),
        (message(timestamp="2024-03-10T12:01:01Z", _import={}), ["event_time_plausible"]),
    ]
    raws = spark.createDataFrame(
        [(i, json.dumps(m)) for i, (m, _) in enumerate(cases)], "i int, value string"
    )
    suite = ExpectationSuite(name="messages", expectations=message_expectations(window))

    rows = annotate(parse_messages(raws), suite).orderBy("i").collect()

    assert [list(r[FAILED_RULES]) for r in rows] == [rules for _, rules in cases]
    assert rule_descriptions(window)["event_time_plausible"] == (
        "the event time is more than 60 seconds after or more than 10 days before receivedAt "
        "(20 days for imported history)"
    )


def test_the_import_marker_is_read_from_the_message(spark: SparkSession) -> None:
    raws = [
        (json.dumps(message(_import={"source": "f.jsonl", "importedAt": "2024-03-10T12:00:00Z"})),),
        (json.dumps(message()),),
        (json.dumps(message(_import=None)),),
    ]

    parsed = parse_messages(spark.createDataFrame(raws, "value string"))

    assert [r.imported for r in parsed.select(is_imported(F.col(MESSAGE)).alias("imported")).collect()] == [
        True,
        False,
        False,
    ]


def test_group_traits_keep_the_company_and_drop_personal_keys(spark: SparkSession) -> None:
    company = {"name": "Initech", "industry": "Software", "employees": 120, "plan": "enterprise"}
    personal = {"email": "billing@initech.example", "phone": "+1 555 0100", "firstName": "Bill"}
    raws = [
        (json.dumps(message(type="group", event=None, groupId="g-1", traits={**company, **personal})),),
        (json.dumps(message(type="identify", event=None, traits={"name": "Peter Gibbons", "plan": "pro"})),),
        (
            json.dumps(
                message(type="group", event=None, groupId="g-1", context={"traits": {"name": "Peter"}})
            ),
        ),
    ]

    parsed = parse_messages(spark.createDataFrame(raws, "value string"))
    got = [json.loads(r.t) for r in parsed.select(kept_traits(F.col(MESSAGE)).alias("t")).collect()]

    assert got == [company, {"plan": "pro"}, {}]


def test_rule_names_all_have_descriptions() -> None:
    assert [e.name for e in message_expectations()] == list(RULE_DESCRIPTIONS)
    assert all(e.action == "drop" for e in message_expectations())


def test_describe_failures_names_each_rule_and_what_is_wrong(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [(["valid_json"],), (["has_message_id", "custom_rule"],), ([],)], "r array<string>"
    )

    got = [x.d for x in rows.select(describe_failures(F.col("r")).alias("d")).collect()]

    assert got == [
        "valid_json: the value is not a JSON object",
        "has_message_id: messageId is missing or empty; custom_rule",
        "",
    ]
