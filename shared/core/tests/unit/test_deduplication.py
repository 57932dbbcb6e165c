from datetime import date, datetime

import pytest
from pyspark.sql import SparkSession

from lakehouse_core.ingestion.bronze import BRONZE_SCHEMA
from lakehouse_core.ingestion.deduplication import (
    DUPLICATE_OF_OFFSET,
    DUPLICATE_OF_PARTITION,
    duplicates_to_quarantine,
    split_duplicates,
)

pytestmark = pytest.mark.unit

TOPIC = "web.events.v1"

EVENT_COLUMNS = "event_id string, source_partition long, source_offset long, note string"


def test_split_duplicates_within_batch_against_stored_and_replays(spark: SparkSession) -> None:
    stored = spark.createDataFrame([("a", 0, 5, "stored"), ("r", 1, 7, "stored")], EVENT_COLUMNS)
    batch = spark.createDataFrame(
        [
            ("a", 2, 1, "same id as a stored event, other record"),
            ("r", 1, 7, "replay of a stored record"),
            ("b", 1, 9, "second of b in the batch"),
            ("b", 0, 30, "first of b in the batch"),
            ("b", 0, 30, "first of b, delivered twice"),
            ("c", 3, 3, "new"),
        ],
        EVENT_COLUMNS,
    )

    new, duplicates = split_duplicates(batch, stored)

    assert new.columns == batch.columns
    assert sorted((r.event_id, r.source_partition, r.source_offset) for r in new.collect()) == [
        ("b", 0, 30),
        ("c", 3, 3),
    ]
    assert sorted(
        (r.event_id, r.source_partition, r.source_offset, r[DUPLICATE_OF_PARTITION], r[DUPLICATE_OF_OFFSET])
        for r in duplicates.collect()
    ) == [("a", 2, 1, 0, 5), ("b", 1, 9, 0, 30)]


def test_duplicates_become_quarantine_rows_naming_the_earlier_record(spark: SparkSession) -> None:
    raw = '{"type": "track", "event": "Clicked", "messageId": "a", "anonymousId": "x"}'
    records = spark.createDataFrame(
        [(None, raw, TOPIC, 2, 1, datetime(2024, 3, 10), datetime(2024, 3, 10), date(2024, 3, 10), None)],
        BRONZE_SCHEMA,
    )
    duplicates = spark.createDataFrame(
        [("a", 2, 1, "dup", 0, 5)],
        f"{EVENT_COLUMNS}, {DUPLICATE_OF_PARTITION} long, {DUPLICATE_OF_OFFSET} long",
    )

    rows = duplicates_to_quarantine(duplicates, records, suite="web_events").collect()

    assert len(rows) == 1
    row = rows[0]
    assert (row.source_topic, row.source_partition, row.source_offset, row.event_id, row.raw_value) == (
        TOPIC,
        2,
        1,
        "a",
        raw,
    )
    assert list(row.failed_rules) == ["unique_message_id"]
    assert (
        row.reason
        == "web_events: failed unique_message_id: messageId a was already seen at partition 0, offset 5"
    )
