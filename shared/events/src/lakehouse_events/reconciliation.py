"""Counts that must agree across an event product's layers: nothing accepted is lost, nothing
is doubled.

``kafka`` records on the events topic = ``bronze`` rows = ``silver`` events + ``quarantine``
rows (malformed records and duplicates of an already stored event id both land in quarantine,
with their reason). Read with delta-rs: no Spark needed to check.

Kafka is counted over the offsets bronze actually holds, per partition, not as what the topic
holds now: retention deletes old segments (the low watermark moves up) while bronze keeps their
rows. A partition's Kafka records are those from the first offset bronze holds (or the low
watermark, if lower) up to the high watermark; a record bronze lacks within that range is
``missing``, one after the last offset bronze holds is ``pending`` (not ingested yet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, computed_field

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.kafka.admin import partition_watermarks
from lakehouse_core.tables import TableSpec

if TYPE_CHECKING:
    from collections.abc import Mapping


class PartitionOffsets(BaseModel):
    """One partition of the topic: what Kafka has held since bronze's first offset, and what
    bronze holds of it."""

    partition: int
    kafka_low: int = Field(description="Earliest offset Kafka still holds.")
    kafka_high: int = Field(description="Offset of the next record Kafka will write.")
    bronze_rows: int
    bronze_first: int | None = Field(description="Lowest offset in bronze; None when bronze has none.")
    bronze_last: int | None = Field(description="Highest offset in bronze; None when bronze has none.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kafka_records(self) -> int:
        """Records in ``[min(bronze_first, kafka_low), kafka_high)``: those bronze should hold
        once it has caught up, including any retention has deleted since."""
        start = self.kafka_low if self.bronze_first is None else min(self.kafka_low, self.bronze_first)
        return max(self.kafka_high - start, 0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pending(self) -> int:
        """Records after the last offset bronze holds: not ingested yet."""
        after = self.kafka_low if self.bronze_last is None else max(self.kafka_low, self.bronze_last + 1)
        return max(self.kafka_high - after, 0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def missing(self) -> int:
        """Records up to bronze's last offset that bronze lacks (negative: rows held twice)."""
        return self.kafka_records - self.pending - self.bronze_rows


class Reconciliation(BaseModel):
    kafka: int = Field(description="Kafka records over the offset ranges bronze holds, plus pending ones.")
    bronze: int
    silver: int
    quarantine: int
    sessions: int
    partitions: list[PartitionOffsets] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pending(self) -> int:
        """Records in Kafka not in bronze yet: run the bronze step."""
        return sum(p.pending for p in self.partitions)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def missing(self) -> int:
        """Records bronze skipped, by offset (a non-zero value is data loss or a doubled row)."""
        return sum(p.missing for p in self.partitions)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def balanced(self) -> bool:
        return self.kafka == self.bronze == self.silver + self.quarantine


def row_count(spec: TableSpec, lake_root: str) -> int:
    """Rows in the table (0 when it does not exist yet), reading one narrow column."""
    try:
        return int(read_arrow(spec.location(lake_root), columns=[spec.schema.fieldNames()[0]]).num_rows)
    except TableNotFoundError:
        return 0


def bronze_offsets(spec: TableSpec, lake_root: str, topic: str) -> dict[int, tuple[int, int, int]]:
    """Per partition of ``topic`` in the bronze table: (rows, lowest offset, highest offset)."""
    import pyarrow.compute as pc

    try:
        table = read_arrow(
            spec.location(lake_root),
            columns=["topic", "partition", "offset"],
            filter=pc.field("topic") == topic,
        )
    except TableNotFoundError:
        return {}
    grouped = table.group_by("partition").aggregate(
        [("offset", "count"), ("offset", "min"), ("offset", "max")]
    )
    return {
        int(row["partition"]): (int(row["offset_count"]), int(row["offset_min"]), int(row["offset_max"]))
        for row in grouped.to_pylist()
    }


def partition_offsets(
    watermarks: Mapping[int, tuple[int, int]], bronze: Mapping[int, tuple[int, int, int]]
) -> list[PartitionOffsets]:
    """Kafka's watermarks next to bronze's offsets, per partition present in either."""
    result = []
    for partition in sorted(set(watermarks) | set(bronze)):
        low, high = watermarks.get(partition, (0, 0))
        rows, first, last = bronze.get(partition, (0, None, None))
        result.append(
            PartitionOffsets(
                partition=partition,
                kafka_low=low,
                kafka_high=high,
                bronze_rows=rows,
                bronze_first=first,
                bronze_last=last,
            )
        )
    return result


def reconcile(
    *,
    topic: str,
    bronze: TableSpec,
    silver: TableSpec,
    quarantine: TableSpec,
    sessions: TableSpec,
    bootstrap_servers: str,
    lake_root: str,
) -> Reconciliation:
    partitions = partition_offsets(
        partition_watermarks(bootstrap_servers, topic), bronze_offsets(bronze, lake_root, topic)
    )
    return Reconciliation(
        kafka=sum(p.kafka_records for p in partitions),
        bronze=row_count(bronze, lake_root),
        silver=row_count(silver, lake_root),
        quarantine=row_count(quarantine, lake_root),
        sessions=row_count(sessions, lake_root),
        partitions=partitions,
    )
