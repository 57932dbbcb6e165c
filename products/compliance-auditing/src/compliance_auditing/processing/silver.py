"""Bronze audit records → silver audit entries (pure): parsed with the
:class:`~lakehouse_core.platform_topics.AuditRecord` contract, checked, and split into valid
records and quarantine rows, each with the rules it failed and why.

A record whose ``record_id`` is already stored (from another Kafka record) is a re-send: it goes
to quarantine under :data:`DUPLICATE_RULE`, so a record is one link of the chain and
``bronze = silver + quarantine`` holds exactly. Linking (``seq`` and the hashes) happens in
:mod:`compliance_auditing.processing.chain`, after this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from pyspark.sql import types as T

from lakehouse_core.contracts import conform
from lakehouse_core.ingestion.deduplication import (
    DUPLICATE_OF_OFFSET,
    DUPLICATE_OF_PARTITION,
    split_duplicates,
)
from lakehouse_core.ingestion.quarantine import QuarantineEntry
from lakehouse_core.platform_topics import AuditAction, AuditOutcome, ResourceType

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

SUITE = "audit_record"
DUPLICATE_RULE = "unique_record_id"
ACTIONS: tuple[str, ...] = get_args(AuditAction)
OUTCOMES: tuple[str, ...] = get_args(AuditOutcome)
RESOURCE_TYPES: tuple[str, ...] = get_args(ResourceType)

#: The record as parsed: every field nullable, so a missing or mistyped field is a null that a
#: rule names, not a parse failure of the whole record.
RECORD_SCHEMA = T.StructType(
    [
        T.StructField("record_id", T.StringType()),
        T.StructField("occurred_at", T.TimestampType()),
        T.StructField("service", T.StringType()),
        T.StructField("api_key_id", T.StringType()),
        T.StructField("roles", T.ArrayType(T.StringType())),
        T.StructField("action", T.StringType()),
        T.StructField("resource_type", T.StringType()),
        T.StructField("resource", T.StringType()),
        T.StructField("resource_version", T.LongType()),
        T.StructField("subject_key", T.StringType()),
        T.StructField("outcome", T.StringType()),
        T.StructField("status_code", T.LongType()),
        T.StructField("correlation_id", T.StringType()),
        T.StructField("detail", T.StringType()),
    ]
)
REQUIRED = ("record_id", "occurred_at", "service", "action", "resource_type", "resource", "outcome")
#: The columns of a parsed record, in :class:`~compliance_auditing.contracts.AuditEntry` order.
RECORD_COLUMNS = tuple(RECORD_SCHEMA.fieldNames())


def _known(r: Column, field: str, allowed: tuple[str, ...]) -> tuple[str, Column, Column]:
    from pyspark.sql import functions as F

    return (
        f"known_{field}",
        r[field].isNotNull() & ~r[field].isin(*allowed),
        F.format_string(f"{field} %s is not one of %s", r[field], F.lit(", ".join(allowed))),
    )


def _checks(r: Column) -> list[tuple[str, Column, Column]]:
    """(rule, failed, message) per rule, on the parsed record ``r``."""
    from pyspark.sql import functions as F

    missing = F.array_compact(
        F.array(*(F.when(r[c].isNull() | (F.trim(r[c].cast("string")) == ""), F.lit(c)) for c in REQUIRED))
    )
    return [
        (
            "required_fields",
            F.size(missing) > 0,
            F.concat(F.lit("missing, empty or not of its type: "), F.array_join(missing, ", ")),
        ),
        _known(r, "action", ACTIONS),
        _known(r, "outcome", OUTCOMES),
        _known(r, "resource_type", RESOURCE_TYPES),
        (
            "non_negative_version",
            r["resource_version"] < 0,
            F.format_string("resource_version %d is negative", r["resource_version"]),
        ),
    ]


def parse_audit(bronze: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(records, quarantined) of bronze rows of ``platform.audit.v1``: records with the fields of
    :class:`AuditRecord` (roles sorted), ``day``, ``source_partition``, ``source_offset``,
    ``_raw_value`` and ``_topic``; quarantined as
    :class:`~lakehouse_core.ingestion.quarantine.QuarantineEntry` rows. Fields the contract does
    not know are ignored (a newer publisher stays readable)."""
    from pyspark.sql import functions as F

    is_object = F.json_object_keys(F.col("value")).isNotNull()
    parsed = bronze.withColumn("_r", F.from_json(F.col("value"), RECORD_SCHEMA))
    r = F.col("_r")
    checks = _checks(r)
    failed = F.when(~is_object, F.array(F.lit("valid_json_object"))).otherwise(
        F.array_compact(F.array(*(F.when(bad, F.lit(rule)) for rule, bad, _ in checks)))
    )
    reasons = F.when(~is_object, F.lit("the record is not a JSON object")).otherwise(
        F.concat_ws(
            "; ", *(F.when(bad, F.concat(F.lit(f"{rule}: "), message)) for rule, bad, message in checks)
        )
    )
    checked = parsed.withColumn("_failed", failed).withColumn("_reason", reasons)
    quarantined = checked.filter(F.size("_failed") > 0).select(
        F.col("topic").alias("source_topic"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        F.when(is_object, r["record_id"]).alias("event_id"),
        F.col("value").alias("raw_value"),
        F.col("_failed").alias("failed_rules"),
        F.concat(F.lit(f"{SUITE}: "), F.col("_reason")).alias("reason"),
        F.current_timestamp().alias("quarantined_at"),
        F.when(is_object, r["subject_key"]).alias("subject_key"),
    )
    fields = {c: r[c] for c in RECORD_COLUMNS}
    fields["roles"] = F.array_sort(F.coalesce(r["roles"], F.array().cast("array<string>")))
    fields["resource_version"] = r["resource_version"]
    fields["status_code"] = r["status_code"].cast("int")
    valid = checked.filter(F.size("_failed") == 0).select(
        *(column.alias(name) for name, column in fields.items()),
        F.to_date(r["occurred_at"]).alias("day"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        F.col("value").alias("_raw_value"),
        F.col("topic").alias("_topic"),
    )
    return valid, conform(quarantined, QuarantineEntry)


def split_resent(records: DataFrame, stored: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(new records, quarantine rows for re-sent records) of a batch's ``records`` (from
    :func:`parse_audit`) against the ``stored`` silver audit trail. A record replayed from the
    same Kafka record (after a crash) is in neither."""
    from pyspark.sql import functions as F

    new, duplicates = split_duplicates(
        records.withColumnRenamed("record_id", "event_id"),
        stored.select(F.col("record_id").alias("event_id"), "source_partition", "source_offset"),
    )
    reason = F.format_string(
        "%s: failed %s: record_id %s was already stored from partition %d, offset %d (a re-sent record)",
        F.lit(SUITE),
        F.lit(DUPLICATE_RULE),
        F.col("event_id"),
        F.col(DUPLICATE_OF_PARTITION),
        F.col(DUPLICATE_OF_OFFSET),
    )
    resent = duplicates.select(
        F.col("_topic").alias("source_topic"),
        "source_partition",
        "source_offset",
        "event_id",
        F.col("_raw_value").alias("raw_value"),
        F.array(F.lit(DUPLICATE_RULE)).alias("failed_rules"),
        reason.alias("reason"),
        F.current_timestamp().alias("quarantined_at"),
        F.col("subject_key"),
    )
    return new.withColumnRenamed("event_id", "record_id").drop("_raw_value", "_topic"), conform(
        resent, QuarantineEntry
    )
