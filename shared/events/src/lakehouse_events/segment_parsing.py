"""Bronze payloads → typed Segment messages, with the event time corrected for clock skew.

Bronze keeps whatever a producer wrote, so parsing never fails a row: Spark's ``from_json``
(PERMISSIVE) yields the fields it could read and keeps the raw text of a payload that did not
fit the schema in a corrupt-record field. The expectation rules then name what is wrong, and
the product sends those rows to quarantine.

The reading schema is derived from :class:`~lakehouse_events.segment.CollectedMessage`, with two
differences from :func:`~lakehouse_core.contracts.spark_schema`: every field is nullable (bronze
promises nothing), and free-form objects (``dict[str, Any]``: properties, traits, ...) become
strings holding the object's raw JSON text, which is what Spark's JSON reader returns for a
string field.

Imported history (``<product> import``) carries a marker (the ``_import`` field, see
:class:`~lakehouse_events.segment.ImportMarker`) and is judged by a wider plausibility window:
see :class:`EventTimeWindow`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pyspark.sql import types as T

from lakehouse_core.contracts import _spark_type, conform
from lakehouse_core.ingestion.quarantine import QuarantinedRecord
from lakehouse_core.privacy import GROUP_PII_KEYS, drop_json_keys
from lakehouse_core.quality.expectations import Expectation, expect, sql_literal
from lakehouse_core.quality.runner import FAILED_RULES, ExpectationSuite, apply_suite
from lakehouse_events.refinement import SilverBatch
from lakehouse_events.segment import (
    IMPORT_FIELD,
    MESSAGE_TYPES,
    SECONDS_PER_DAY,
    CollectedMessage,
    EventTimeWindow,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

MESSAGE = "message"
"""The struct column holding the parsed message (camelCase wire names)."""
IS_JSON_OBJECT = "value_is_json_object"
"""True when the raw value is a JSON object at all."""
MATCHES_SCHEMA = "value_matches_message_schema"
"""True when every field the schema knows had the expected JSON type."""
IS_VALID_UTF8 = "value_is_valid_utf8"
"""False when the value holds U+FFFD: bronze put it in place of bytes that were not UTF-8, so the
text is not what the producer meant (the collector refuses such bodies; a record written to
Kafka by anything else may still carry them)."""
REPLACEMENT_CHARACTER = "\ufffd"
EVENT_TS = "event_ts"
"""When the event happened on the server's clock; see :func:`corrected_event_time`."""

_CORRUPT_RECORD = "_corrupt_record"

#: The consent category (matched in any case) without which an event is not analysed.
ANALYTICS_CATEGORY = "analytics"
#: The quarantine rule of an event whose consent withholds :data:`ANALYTICS_CATEGORY`.
CONSENT_WITHDRAWN = "analytics_consent_withdrawn"


def _duration(seconds: int) -> str:
    if seconds % SECONDS_PER_DAY == 0:
        days = seconds // SECONDS_PER_DAY
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{seconds} seconds"


def json_reader_schema(model: type[BaseModel]) -> T.StructType:
    """The schema to read ``model`` from JSON with: all fields nullable, wire (alias) names,
    ``dict`` fields as the raw JSON text of the object."""
    hints = typing.get_type_hints(model, include_extras=True)
    return T.StructType(
        [
            T.StructField(
                info.alias or name, _reader_type(hints[name], where=f"{model.__name__}.{name}"), nullable=True
            )
            for name, info in model.model_fields.items()
        ]
    )


def _reader_type(annotation: Any, *, where: str) -> T.DataType:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _reader_type(get_args(annotation)[0], where=where)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _reader_type(members[0], where=where)
    if origin is dict:
        return T.StringType()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return json_reader_schema(annotation)
    return _spark_type(annotation, where=where)[0]


MESSAGE_SCHEMA = json_reader_schema(CollectedMessage)


def parse_messages(bronze: DataFrame, *, value_col: str = "value") -> DataFrame:
    """Add :data:`MESSAGE`, :data:`IS_JSON_OBJECT`, :data:`MATCHES_SCHEMA`,
    :data:`IS_VALID_UTF8` and :data:`EVENT_TS` to ``bronze`` (pure; rows are never dropped)."""
    from pyspark.sql import functions as F

    with_corrupt = T.StructType([*MESSAGE_SCHEMA.fields, T.StructField(_CORRUPT_RECORD, T.StringType())])
    parsed = F.from_json(
        F.col(value_col),
        with_corrupt,
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT_RECORD},
    )
    return (
        bronze.withColumn("_parsed", parsed)
        .withColumn(IS_JSON_OBJECT, F.json_object_keys(F.col(value_col)).isNotNull())
        .withColumn(MATCHES_SCHEMA, F.col(f"_parsed.{_CORRUPT_RECORD}").isNull())
        .withColumn(IS_VALID_UTF8, F.coalesce(~F.col(value_col).contains(REPLACEMENT_CHARACTER), F.lit(True)))
        .withColumn(MESSAGE, F.col("_parsed").dropFields(_CORRUPT_RECORD))
        .drop("_parsed")
        .withColumn(EVENT_TS, corrected_event_time(F.col(MESSAGE)))
    )


def corrected_event_time(message: Column) -> Column:
    """``receivedAt - (sentAt - device time)`` when both are known, else the device time
    (``originalTimestamp``, else ``timestamp``), else ``receivedAt``: the Spark twin of
    :func:`lakehouse_events.segment.corrected_timestamp`."""
    from pyspark.sql import functions as F

    device_time = F.coalesce(message["originalTimestamp"], message["timestamp"])
    received_at = message["receivedAt"]
    sent_at = message["sentAt"]
    skew_corrected = F.timestamp_micros(
        F.unix_micros(received_at) - (F.unix_micros(sent_at) - F.unix_micros(device_time))
    )
    return (
        F.when(sent_at.isNotNull() & device_time.isNotNull(), skew_corrected)
        .when(device_time.isNotNull(), device_time)
        .otherwise(received_at)
    )


def _present(field: str) -> str:
    return f"nullif(trim({MESSAGE}.{field}), '') IS NOT NULL"


def _for_readable(condition: str) -> str:
    """Content rules judge only payloads that parsed, so a broken payload fails one rule
    (``valid_json`` or ``matches_message_schema``) instead of all of them."""
    return f"NOT ({IS_JSON_OBJECT} AND {MATCHES_SCHEMA}) OR ({condition})"


_TYPES = ", ".join(sql_literal(t) for t in MESSAGE_TYPES)
_CONTROL_CHARACTER = r"'\\p{Cc}'"
"""Java's class of control characters (U+0000-U+001F, U+007F-U+009F) as a SQL literal: the
same set as :func:`lakehouse_events.segment.control_character`."""


def _no_control_character(field: str) -> str:
    return f"coalesce(NOT {MESSAGE}.{field} RLIKE {_CONTROL_CHARACTER}, TRUE)"


def rule_descriptions(event_time: EventTimeWindow) -> dict[str, str]:
    """What each rule of :func:`message_expectations` refuses, in its order."""
    return {**_RULE_DESCRIPTIONS, "event_time_plausible": _plausibility(event_time)}


def _plausibility(window: EventTimeWindow) -> str:
    return (
        f"the event time is more than {_duration(window.max_seconds_after_received)} after or more than "
        f"{_duration(window.max_days_before_received * SECONDS_PER_DAY)} before receivedAt "
        f"({_duration(window.imported_max_days_before_received * SECONDS_PER_DAY)} for imported history)"
    )


_RULE_DESCRIPTIONS: dict[str, str] = {
    "valid_json": "the value is not a JSON object",
    "valid_utf8": "the value's bytes were not UTF-8 (it holds U+FFFD in their place)",
    "matches_message_schema": "a field has the wrong JSON type (e.g. an unreadable timestamp)",
    "has_message_id": "messageId is missing or empty",
    "has_user_or_anonymous_id": "neither userId nor anonymousId is set",
    "known_type": f"type is not one of {', '.join(MESSAGE_TYPES)}",
    "track_has_event_name": "a track call without an event name",
    "alias_has_previous_id": "an alias call without previousId",
    "group_has_group_id": "a group call without groupId",
    "name_has_no_control_characters": (
        "the event name or page/screen name holds a control character (U+0000-U+001F, U+007F-U+009F)"
    ),
    "has_received_at": "receivedAt (the collector's clock) is missing",
    "event_time_plausible": "",
}
RULE_DESCRIPTIONS = rule_descriptions(EventTimeWindow())
"""The descriptions with the default :class:`EventTimeWindow`."""


def message_expectations(event_time: EventTimeWindow | None = None) -> list[Expectation]:
    """The rules a parsed message (from :func:`parse_messages`) must pass to become silver;
    all ``drop``. Descriptions are in :func:`rule_descriptions`."""
    window = event_time or EventTimeWindow()
    received = f"{MESSAGE}.receivedAt"
    imported = f"{MESSAGE}.{IMPORT_FIELD} IS NOT NULL"
    live_start = f"{received} - INTERVAL {window.max_days_before_received} DAYS"
    imported_start = f"{received} - INTERVAL {window.imported_max_days_before_received} DAYS"
    rules = [
        expect("valid_json", IS_JSON_OBJECT),
        expect("valid_utf8", IS_VALID_UTF8),
        expect("matches_message_schema", f"NOT {IS_JSON_OBJECT} OR {MATCHES_SCHEMA}"),
        expect("has_message_id", _for_readable(_present("messageId"))),
        expect(
            "has_user_or_anonymous_id",
            _for_readable(f"{_present('userId')} OR {_present('anonymousId')}"),
        ),
        expect("known_type", _for_readable(f"{MESSAGE}.type IN ({_TYPES})")),
        expect(
            "track_has_event_name",
            _for_readable(f"coalesce({MESSAGE}.type, '') <> 'track' OR {_present('event')}"),
        ),
        expect(
            "alias_has_previous_id",
            _for_readable(f"coalesce({MESSAGE}.type, '') <> 'alias' OR {_present('previousId')}"),
        ),
        expect(
            "group_has_group_id",
            _for_readable(f"coalesce({MESSAGE}.type, '') <> 'group' OR {_present('groupId')}"),
        ),
        expect(
            "name_has_no_control_characters",
            _for_readable(f"{_no_control_character('event')} AND {_no_control_character('name')}"),
        ),
        expect("has_received_at", _for_readable(f"{received} IS NOT NULL")),
        expect(
            "event_time_plausible",
            _for_readable(
                f"{received} IS NULL OR ({EVENT_TS} <= {received} + INTERVAL "
                f"{window.max_seconds_after_received} SECONDS AND {EVENT_TS} >= "
                f"CASE WHEN {imported} THEN {imported_start} ELSE {live_start} END)"
            ),
        ),
    ]
    return rules


def is_imported(message: Column) -> Column:
    """True for a message the product's ``import`` command wrote (it carries the marker)."""
    return message[IMPORT_FIELD].isNotNull()


def kept_traits(message: Column) -> Column:
    """The call's traits as JSON without personal data. A ``group`` call's own traits describe
    a company, so its name (and industry, employees, plan, ...) stay and only the keys of
    :data:`~lakehouse_core.privacy.GROUP_PII_KEYS` go; any other call's traits (or, without
    them, ``context.traits``) describe a person and lose every key of
    :data:`~lakehouse_core.privacy.PII_KEYS`."""
    from pyspark.sql import functions as F

    own = message["traits"]
    return F.when(
        (message["type"] == "group") & own.isNotNull(), drop_json_keys(own, GROUP_PII_KEYS)
    ).otherwise(drop_json_keys(F.coalesce(own, message["context"]["traits"])))


def describe_failures(failed_rules: Column, descriptions: Mapping[str, str] = RULE_DESCRIPTIONS) -> Column:
    """A readable reason from an array of failed rule names: ``"rule: what is wrong; ..."``."""
    from pyspark.sql import functions as F

    described_as = F.create_map(*[F.lit(x) for pair in descriptions.items() for x in pair])

    def described(rule: Column) -> Column:
        what = F.try_element_at(described_as, rule)
        return F.when(what.isNull(), rule).otherwise(F.concat(rule, F.lit(": "), what))

    return F.array_join(F.transform(failed_rules, described), "; ")


def analytics_consent_withheld(message: Column) -> Column:
    """True when the message's ``context.consent.categoryPreferences`` sets the analytics
    category to false. A message without consent preferences, or without that category, is not
    withheld: consent is then managed outside the event stream."""
    from pyspark.sql import functions as F

    preferences = F.from_json(message["context"]["consent"]["categoryPreferences"], "map<string,boolean>")
    withheld = F.exists(
        F.map_entries(preferences),
        lambda entry: (F.lower(entry["key"]) == ANALYTICS_CATEGORY) & (entry["value"] == F.lit(False)),
    )
    return F.coalesce(withheld, F.lit(False))


def consent_exclusions(excluded: DataFrame, *, suite: str) -> DataFrame:
    """Quarantine rows for valid messages excluded for want of analytics consent. Their payload
    is not kept (``raw_value`` is empty, so no subject key either): the row only accounts for the
    bronze record, so ``bronze = silver + quarantine`` still holds and the exclusion is counted."""
    from pyspark.sql import functions as F

    reason = (
        f"{suite}: {CONSENT_WITHDRAWN}: the event's consent (context.consent.categoryPreferences) "
        "withholds analytics, so it is excluded from silver and everything downstream; its payload "
        "is not kept"
    )
    return conform(
        excluded.select(
            F.col("topic").alias("source_topic"),
            F.col("partition").alias("source_partition"),
            F.col("offset").alias("source_offset"),
            F.col(MESSAGE)["messageId"].alias("event_id"),
            F.lit("").alias("raw_value"),
            F.array(F.lit(CONSENT_WITHDRAWN)).alias("failed_rules"),
            F.lit(reason).alias("reason"),
            F.current_timestamp().alias("quarantined_at"),
        ),
        QuarantinedRecord,
    )


def quarantine_records(
    rejected: DataFrame, *, suite: str, event_time: EventTimeWindow | None = None
) -> DataFrame:
    """:class:`~lakehouse_core.ingestion.quarantine.QuarantinedRecord` rows for the bronze rows
    a suite of :func:`message_expectations` rejected (its runner's quarantine output), with the
    reason ``"<suite>: <rule>: <what is wrong>; ..."``."""
    from pyspark.sql import functions as F

    descriptions = rule_descriptions(event_time or EventTimeWindow())
    return conform(
        rejected.select(
            F.col("topic").alias("source_topic"),
            F.col("partition").alias("source_partition"),
            F.col("offset").alias("source_offset"),
            F.col(MESSAGE)["messageId"].alias("event_id"),
            F.col("value").alias("raw_value"),
            F.col(FAILED_RULES).alias("failed_rules"),
            F.concat(F.lit(f"{suite}: "), describe_failures(F.col(FAILED_RULES), descriptions)).alias(
                "reason"
            ),
            F.current_timestamp().alias("quarantined_at"),
        ),
        QuarantinedRecord,
    )


def refine_segment_batch(
    bronze: DataFrame,
    *,
    suite: str,
    max_quarantine_fraction: float,
    to_events: Callable[[DataFrame], DataFrame],
    model: type[BaseModel],
    event_time: EventTimeWindow | None = None,
) -> SilverBatch:
    """One bronze batch of Segment messages → a product's silver events and quarantine rows.

    Parses, applies :func:`message_expectations` as the suite ``suite`` and hands the valid
    rows to the product's ``to_events``; the result gets exactly ``model``'s columns. A valid
    message whose consent withholds analytics (:func:`analytics_consent_withheld`) is not an
    event: it goes to quarantine under :data:`CONSENT_WITHDRAWN` without its payload, and does
    not count towards ``max_quarantine_fraction`` (it is a person's choice, not breakage). Raises
    :class:`~lakehouse_core.errors.QualityError` when more than ``max_quarantine_fraction`` of
    the rows fail: that is a broken producer, not bad rows, and should stop the pipeline rather
    than fill the quarantine. ``event_time`` is the product's plausibility window (default:
    :class:`EventTimeWindow`'s defaults).
    """
    rules = ExpectationSuite(
        name=suite,
        expectations=message_expectations(event_time),
        max_quarantine_fraction=max_quarantine_fraction,
    )
    from pyspark.sql import functions as F

    outcome = apply_suite(parse_messages(bronze), rules)
    withheld = analytics_consent_withheld(F.col(MESSAGE))
    return SilverBatch(
        events=conform(to_events(outcome.valid.where(~withheld)), model),
        quarantine=quarantine_records(outcome.quarantine, suite=suite, event_time=event_time).unionByName(
            consent_exclusions(outcome.valid.where(withheld), suite=suite)
        ),
    )
