"""A toy product for platform tests: the configuration and declaration the catalog reads from
an installed product's entry point, and a builder of pipeline-run records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakehouse_core.config import TopicConfig
from lakehouse_core.platform_topics import PipelineRunRecord
from lakehouse_core.tables import TableSpec

#: When :func:`attempt_record` 's attempts start and end, unless told otherwise.
RECORDED_AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ToyConfig:
    owner: str = "team@example.com"
    team: str = "Team"
    topics: dict[str, TopicConfig] = field(
        default_factory=lambda: {"events": TopicConfig(name="shop.events.v1", partitions=1)}
    )


@dataclass(frozen=True)
class ToyDeclaration:
    name: str
    tables: tuple[TableSpec, ...]
    load_config: Callable[[], Any] = ToyConfig
    schema_record: Path | None = None


def attempt_record(status: str = "succeeded", **fields: Any) -> PipelineRunRecord:
    """A first, final attempt of the toy product's silver task; ``fields`` override any field."""
    return PipelineRunRecord(
        **{
            "product": "shop",
            "asset": "silver",
            "run_id": "r1",
            "attempt": 1,
            "final_attempt": True,
            "status": status,
            "started_at": RECORDED_AT,
            "finished_at": RECORDED_AT,
            "cpu_seconds": 0.0,
            "peak_memory_bytes": 1,
            **fields,
        }
    )
