"""Rule segments on hand-built frames: predicate validation, daily members folded into spells
(entries, exits, carried-over open spells, changed definitions) and the changes they publish."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.errors import ConfigError
from user_segmentation.config import SegmentDefinition
from user_segmentation.processing.segments import (
    membership_changes,
    membership_spells,
    segment_days,
    validate_segments,
)

pytestmark = pytest.mark.unit

D1 = date(2026, 3, 1)
ACTIVE = SegmentDefinition(predicate="recency_days <= 7")
MEMBERS = (
    "day date, segment string, person_id string, subject_key string, definition_hash string, predicate string"
)
SPELLS = (
    "segment string, person_id string, subject_key string, valid_from date, valid_to date, "
    "definition_hash string, predicate string, exit_reason string"
)


def day(n: int) -> date:
    return D1 + timedelta(days=n - 1)


def members(spark: SparkSession, *rows: tuple[int, str], segment: SegmentDefinition = ACTIVE) -> DataFrame:
    return spark.createDataFrame(
        [(day(n), "active", p, f"k-{p}", segment.definition_hash(), segment.predicate) for n, p in rows],
        MEMBERS,
    )


def spells_of(df: DataFrame) -> set[tuple[object, ...]]:
    return {(r["person_id"], r["valid_from"], r["valid_to"], r["exit_reason"]) for r in df.collect()}


def test_bad_predicates_are_refused_naming_the_segment_and_the_reason(spark: SparkSession) -> None:
    segments = {
        "fine": SegmentDefinition(predicate="recency_days <= 7 and size(platforms_90d) >= 2"),
        "typo": SegmentDefinition(predicate="recency_dayz <= 7"),
        "broken": SegmentDefinition(predicate="recency_days <= 7 and ("),
        "numeric": SegmentDefinition(predicate="frequency_30d + 1"),
    }

    with pytest.raises(ConfigError) as raised:
        validate_segments(spark, segments)

    message = str(raised.value)
    assert "segment 'typo'" in message
    assert "recency_dayz" in message
    assert "segment 'broken'" in message
    assert "does not parse" in message
    assert "segment 'numeric'" in message
    assert "not a boolean" in message
    assert "segment 'fine'" not in message
    validate_segments(spark, {"fine": segments["fine"]})


def test_consecutive_member_days_make_spells_that_close_on_the_first_day_without(spark: SparkSession) -> None:
    daily = members(spark, (1, "p1"), (2, "p1"), (4, "p1"), (2, "p2"), (3, "p2"), (4, "p2"))
    no_open = spark.createDataFrame([], SPELLS)

    spells = membership_spells(daily, no_open, {"active": ACTIVE}, start=day(1), end=day(4))

    assert spells_of(spells) == {
        ("p1", day(1), day(3), "not_matching"),
        ("p1", day(4), None, None),
        ("p2", day(2), None, None),
    }
    changes = membership_changes(spells, start=day(1), end=day(4))
    assert {(r["person_id"], r["change"], r["day"]) for r in changes.collect()} == {
        ("p1", "entered", day(1)),
        ("p1", "exited", day(3)),
        ("p1", "entered", day(4)),
        ("p2", "entered", day(2)),
    }
    sizes = segment_days(daily, changes, {"active": ACTIVE}, [day(n) for n in (1, 2, 3, 4)])
    assert sorted((r["day"], r["members"], r["entered"], r["exited"]) for r in sizes.collect()) == [
        (day(1), 1, 1, 0),
        (day(2), 2, 1, 0),
        (day(3), 1, 0, 1),
        (day(4), 2, 1, 0),
    ]


def test_an_open_spell_continues_closes_or_ends_with_its_changed_definition(spark: SparkSession) -> None:
    stricter = SegmentDefinition(predicate="recency_days <= 3")
    open_spells = spark.createDataFrame(
        [
            ("active", p, f"k-{p}", day(1), None, ACTIVE.definition_hash(), ACTIVE.predicate, None)
            for p in ("stays", "leaves", "redefined")
        ],
        SPELLS,
    )
    daily = members(spark, (5, "stays"), (6, "stays"))

    kept = membership_spells(daily, open_spells, {"active": ACTIVE}, start=day(5), end=day(6))
    assert spells_of(kept) == {
        ("stays", day(1), None, None),
        ("leaves", day(1), day(5), "not_matching"),
        ("redefined", day(1), day(5), "not_matching"),
    }

    changed = membership_spells(
        members(spark, (5, "redefined"), segment=stricter),
        open_spells,
        {"active": stricter},
        start=day(5),
        end=day(5),
    )
    assert {
        (r["person_id"], r["valid_from"], r["valid_to"], r["exit_reason"], r["definition_hash"])
        for r in changed.collect()
    } == {
        ("stays", day(1), day(5), "definition_changed", ACTIVE.definition_hash()),
        ("leaves", day(1), day(5), "definition_changed", ACTIVE.definition_hash()),
        ("redefined", day(1), day(5), "definition_changed", ACTIVE.definition_hash()),
        ("redefined", day(5), None, None, stricter.definition_hash()),
    }
    assert {
        (r["person_id"], r["change"]) for r in membership_changes(kept, start=day(5), end=day(6)).collect()
    } == {
        ("leaves", "exited"),
        ("redefined", "exited"),
    }
