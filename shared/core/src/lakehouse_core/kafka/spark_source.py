"""Options of Spark's Kafka source, in one place, for batch and streaming reads."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

StartingOffsets = Literal["earliest", "latest"]


def kafka_source_options(
    bootstrap_servers: str,
    topics: Sequence[str],
    *,
    starting_offsets: StartingOffsets = "earliest",
    max_offsets_per_trigger: int | None = None,
    fail_on_data_loss: bool = True,
    include_headers: bool = True,
) -> dict[str, str]:
    """Options for ``spark.readStream.format("kafka")`` (and ``spark.read``)."""
    options = {
        "kafka.bootstrap.servers": bootstrap_servers,
        "subscribe": ",".join(topics),
        "startingOffsets": starting_offsets,
        "failOnDataLoss": str(fail_on_data_loss).lower(),
        "includeHeaders": str(include_headers).lower(),
    }
    if max_offsets_per_trigger is not None:
        options["maxOffsetsPerTrigger"] = str(max_offsets_per_trigger)
    return options
