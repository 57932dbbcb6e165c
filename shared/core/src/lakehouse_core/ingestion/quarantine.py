"""The quarantine table: rows that failed parsing or a ``drop`` expectation, kept with the
reason, so nothing is silently lost and every failure can be replayed once fixed."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from lakehouse_core.contracts import spark_schema
from lakehouse_core.tables import (
    LAYER_FRESHNESS,
    RAW_RETENTION_DAYS,
    Layer,
    Retention,
    SubjectKind,
    TableSpec,
)


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


QUARANTINE_SCHEMA = spark_schema(QuarantinedRecord)


def quarantine_table(product: str, name: str = "events") -> TableSpec:
    """The quarantine of the product's bronze table ``name``; the raw payload is a subject column."""
    return TableSpec(
        name=name,
        layer=Layer.QUARANTINE,
        product=product,
        schema=QUARANTINE_SCHEMA,
        description="Records rejected on the way to silver, with the failed rules.",
        contract=QuarantinedRecord,
        subject_columns={"raw_value": SubjectKind.FREE_TEXT},
        retention=Retention(RAW_RETENTION_DAYS, "quarantined_at"),
        freshness=LAYER_FRESHNESS[Layer.QUARANTINE],
        upstream=(f"{product}.{Layer.BRONZE.value}.{name}",),
    )
