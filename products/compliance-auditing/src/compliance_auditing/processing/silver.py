"""Bronze audit records → silver audit entries (pure): parsed with the
:class:`~lakehouse_core.platform_topics.AuditRecord` contract, checked, and split into valid
records and quarantine rows, each with the rules it failed and why.

A record whose ``record_id`` is already stored (from another Kafka record) is a re-send: it goes
to quarantine under
:data:`~lakehouse_core.ingestion.platform_records.DUPLICATE_RULE`, so a record is one link of the chain and
``bronze = silver + quarantine`` holds exactly. Linking (``seq`` and the hashes) happens in
:mod:`compliance_auditing.processing.chain`, after this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from pyspark.sql import types as T

from lakehouse_core.ingestion.platform_records import PARSED, check_records
from lakehouse_core.ingestion.platform_records import split_resent as split_records_resent
from lakehouse_core.platform_topics import AuditAction, AuditOutcome, ResourceType

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

SUITE = "audit_record"
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

    passed, quarantined = check_records(
        bronze, RECORD_SCHEMA, _checks, suite=SUITE, subject_field="subject_key"
    )
    r = F.col(PARSED)
    fields = {c: r[c] for c in RECORD_COLUMNS}
    fields["roles"] = F.array_sort(F.coalesce(r["roles"], F.array().cast("array<string>")))
    fields["resource_version"] = r["resource_version"]
    fields["status_code"] = r["status_code"].cast("int")
    valid = passed.select(
        *(column.alias(name) for name, column in fields.items()),
        F.to_date(r["occurred_at"]).alias("day"),
        F.col("partition").alias("source_partition"),
        F.col("offset").alias("source_offset"),
        F.col("value").alias("_raw_value"),
        F.col("topic").alias("_topic"),
    )
    return valid, quarantined


def split_resent(records: DataFrame, stored: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(new records, quarantine rows for re-sent records) of a batch's ``records`` (from
    :func:`parse_audit`) against the ``stored`` silver audit trail
    (:func:`~lakehouse_core.ingestion.platform_records.split_resent`)."""
    return split_records_resent(records, stored, suite=SUITE, subject_column="subject_key")
