"""The quarantine table: rows that failed parsing or a ``drop`` expectation, kept with the
reason, so nothing is silently lost and every failure can be replayed once fixed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from lakehouse_core.contracts import spark_schema
from lakehouse_core.privacy import SUBJECT_KEY_COLUMN, subject_key_of_json
from lakehouse_core.tables import (
    LAYER_FRESHNESS,
    RAW_RETENTION_DAYS,
    Layer,
    Retention,
    SubjectKind,
    TableSpec,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class QuarantinedRecord(BaseModel):
    """Quarantine: the bronze record that could not become silver, and why."""

    source_topic: str
    source_partition: int
    source_offset: int
    event_id: str | None
    raw_value: str
    failed_rules: list[str]
    reason: str = Field(description="Human-readable: which rules failed and how.")
    quarantined_at: datetime


class QuarantineEntry(QuarantinedRecord):
    """Quarantine: the bronze record that could not become silver, why, and whose it is."""

    subject_key: str | None = Field(
        default=None,
        description="The person's subject key: HMAC of the raw payload's userId with the platform "
        "key, as bronze computes it; null when the payload has none or is not JSON.",
    )


#: The rows a refinement batch sends to quarantine (:class:`QuarantinedRecord`).
QUARANTINE_SCHEMA = spark_schema(QuarantinedRecord)
#: The quarantine table's rows (:class:`QuarantineEntry`): those rows :func:`with_subject_key`.
QUARANTINE_TABLE_SCHEMA = spark_schema(QuarantineEntry)


def quarantine_table(product: str, name: str = "events") -> TableSpec:
    """The quarantine of the product's bronze table ``name``; the raw payload and its subject
    key are subject columns."""
    return TableSpec(
        name=name,
        layer=Layer.QUARANTINE,
        product=product,
        schema=QUARANTINE_TABLE_SCHEMA,
        description="Records rejected on the way to silver, with the failed rules.",
        contract=QuarantineEntry,
        subject_columns={"raw_value": SubjectKind.FREE_TEXT, SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY},
        retention=Retention(RAW_RETENTION_DAYS, "quarantined_at"),
        freshness=LAYER_FRESHNESS[Layer.QUARANTINE],
        upstream=(f"{product}.{Layer.BRONZE.value}.{name}",),
    )


def with_subject_key(rows: DataFrame, *, key: bytes) -> DataFrame:
    """:class:`QuarantinedRecord` rows as :class:`QuarantineEntry` rows: their ``subject_key``
    from ``raw_value`` with the platform ``key``, the expression bronze computes from ``value``
    (pure)."""
    from pyspark.sql import functions as F

    return rows.withColumn(SUBJECT_KEY_COLUMN, subject_key_of_json(F.col("raw_value"), key))
