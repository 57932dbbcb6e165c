"""The demo's guards: seeds that do not repeat a day, and the quarantine counted per rule for
the summary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse_core.ingestion.quarantine import quarantine_table
from lakehouse_events.demo import FIRST_SEED, DemoSeeds, quarantine_by_rule

pytestmark = pytest.mark.unit

DAY = date(2026, 3, 14)


def test_seeds_move_on_per_day_and_survive_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "demo" / "seeds.json"
    seeds = DemoSeeds(path)
    assert seeds.next_unused(DAY) == FIRST_SEED
    seeds.record(DAY, FIRST_SEED)
    seeds.record(DAY, FIRST_SEED + 2)

    again = DemoSeeds(path)
    assert again.sent(DAY) == [FIRST_SEED, FIRST_SEED + 2]
    assert again.next_unused(DAY) == FIRST_SEED + 1
    assert again.next_unused(date(2026, 3, 15)) == FIRST_SEED


def test_quarantine_is_counted_per_failed_rule(tmp_path: Path) -> None:
    spec = quarantine_table("demo-product")
    lake = str(tmp_path / "lake")
    assert quarantine_by_rule(spec, lake) == {}
    rows = pa.table(
        {
            "failed_rules": pa.array(
                [["unique_message_id"], ["valid_json"], ["unique_message_id"], ["event_time_plausible", "x"]],
                pa.list_(pa.string()),
            )
        }
    )
    write_deltalake(spec.location(lake), rows)
    assert quarantine_by_rule(spec, lake) == {
        "unique_message_id": 2,
        "valid_json": 1,
        "event_time_plausible": 1,
        "x": 1,
    }
