"""Schema history: classifying a change, checking it against the record, recording it."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import types as T

from lakehouse_core.tables import Layer, TableSpec
from lakehouse_platform.schema_history import (
    ChangeKind,
    FieldRecord,
    SchemaHistoryError,
    SchemaVersion,
    check,
    classify,
    problems,
    read_record,
    record,
    schema_fields,
    write_record,
)

pytestmark = pytest.mark.unit

BASE = (FieldRecord("id", "string", False), FieldRecord("views", "bigint", True))


def spec(*fields: T.StructField, version: int = 1) -> TableSpec:
    return TableSpec(
        name="t", layer=Layer.GOLD, product="p", schema=T.StructType(list(fields)), schema_version=version
    )


ID = T.StructField("id", T.StringType(), nullable=False)
VIEWS = T.StructField("views", T.LongType(), nullable=True)
HISTORY = (SchemaVersion(1, 0, schema_fields(T.StructType([ID, VIEWS]))),)


def test_an_added_column_is_additive() -> None:
    (change,) = classify(BASE, (*BASE, FieldRecord("country", "string", True)))
    assert (change.kind, change.column, change.breaking) == (ChangeKind.ADDED_COLUMN, "country", False)


def test_a_dropped_column_is_breaking() -> None:
    (change,) = classify(BASE, BASE[:1])
    assert (change.kind, change.column, change.breaking) == (ChangeKind.DROPPED_COLUMN, "views", True)


def test_narrowed_widened_and_changed_types() -> None:
    narrowed = classify(BASE, (BASE[0], FieldRecord("views", "int", True)))
    widened = classify((BASE[0], FieldRecord("views", "int", True)), BASE)
    changed = classify(BASE, (BASE[0], FieldRecord("views", "string", True)))
    assert [(c.kind, c.breaking) for c in narrowed + widened + changed] == [
        (ChangeKind.NARROWED_TYPE, True),
        (ChangeKind.WIDENED_TYPE, False),
        (ChangeKind.CHANGED_TYPE, True),
    ]
    assert str(narrowed[0]) == "narrowed type views (bigint → int)"


def test_nullable_to_required_is_breaking_and_the_reverse_is_not() -> None:
    required = classify(BASE, (BASE[0], FieldRecord("views", "bigint", False)))
    relaxed = classify(BASE, (FieldRecord("id", "string", True), BASE[1]))
    assert [(c.kind, c.breaking) for c in required + relaxed] == [
        (ChangeKind.NOW_REQUIRED, True),
        (ChangeKind.NOW_NULLABLE, False),
    ]


def test_nested_fields_are_compared_by_path() -> None:
    before = schema_fields(T.StructType([T.StructField("a", T.StructType([ID, VIEWS]))]))
    after = schema_fields(T.StructType([T.StructField("a", T.StructType([ID]))]))
    assert [(c.kind, c.column) for c in classify(before, after)] == [(ChangeKind.DROPPED_COLUMN, "a.views")]


def test_an_unchanged_table_has_no_problem() -> None:
    assert check(spec(ID, VIEWS), HISTORY).problem == ""


def test_an_additive_change_asks_to_record_and_becomes_a_revision() -> None:
    live = spec(ID, VIEWS, T.StructField("country", T.StringType()))
    assert "record it with `lakehouse catalog record-schemas`" in check(live, HISTORY).problem
    recorded = record(live, HISTORY)
    assert [v.label for v in recorded] == ["1", "1.1"]
    assert check(live, recorded).problem == ""


def test_a_breaking_change_without_a_bump_names_the_change_and_is_not_recorded() -> None:
    live = spec(ID)
    problem = check(live, HISTORY).problem
    assert problem == (
        "p.gold.t: breaking change (dropped column views (bigint)): bump schema_version to 2 in the table's "
        "declaration, then record it with `lakehouse catalog record-schemas`"
    )
    with pytest.raises(SchemaHistoryError, match="bump schema_version"):
        record(live, HISTORY)


def test_a_bumped_breaking_change_is_recorded_as_the_new_version() -> None:
    live = spec(ID, version=2)
    assert "record it" in check(live, HISTORY).problem
    assert [v.label for v in record(live, HISTORY)] == ["1", "2"]


def test_a_version_going_back_is_refused() -> None:
    history = (*HISTORY, SchemaVersion(2, 0, HISTORY[0].fields))
    assert "never goes back" in check(spec(ID, VIEWS), history).problem


def test_a_new_table_and_a_table_no_longer_declared_are_problems() -> None:
    assert problems([spec(ID)], {}) == [
        "p.gold.t: not in the schema record; record it with `lakehouse catalog record-schemas`"
    ]
    assert "no longer declared" in problems([], {"p.gold.t": HISTORY})[0]


def test_the_record_reads_back_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / "schemas.json"
    history = {"p.gold.t": record(spec(ID, VIEWS, T.StructField("c", T.StringType())), HISTORY)}
    write_record(path, history)
    assert read_record(path) == history
    path.write_text("{not json")
    with pytest.raises(SchemaHistoryError, match="not a schema record"):
        read_record(path)
