"""Schema history: every table's schema versions, recorded in a committed file per product.

A product's record (``config/schemas.json``, written by ``lakehouse catalog record-schemas``)
holds, per table, each version's fields and types. The live schema (from the contract) is
compared with the latest recorded version:

- an additive change (a new column, a widened type, a required column made nullable) becomes a
  new revision of the same schema version (``1.1``) when recorded;
- a breaking change (a dropped column, a narrowed or changed type, a nullable column made
  required) is refused until the table's declared ``schema_version`` is bumped, and is then
  recorded as that new version (``2``).

The cross-product test ``tests/test_schema_history.py`` fails while the record and the live
contracts disagree, naming the table and the change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from lakehouse_core.errors import LakehouseError

if TYPE_CHECKING:
    from pathlib import Path

    from pyspark.sql.types import DataType, StructType

    from lakehouse_core.tables import TableSpec

RECORD_COMMAND = "lakehouse catalog record-schemas"

#: Widening steps a reader of the older data still understands (each pair: narrower, wider).
_WIDER: frozenset[tuple[str, str]] = frozenset(
    {
        ("tinyint", "smallint"),
        ("tinyint", "int"),
        ("tinyint", "bigint"),
        ("smallint", "int"),
        ("smallint", "bigint"),
        ("int", "bigint"),
        ("float", "double"),
        ("date", "timestamp_ntz"),
    }
)


class SchemaHistoryError(LakehouseError):
    """The schema record is unreadable, or a change cannot be recorded as it is."""


class ChangeKind(StrEnum):
    ADDED_COLUMN = "added column"
    WIDENED_TYPE = "widened type"
    NOW_NULLABLE = "required → nullable"
    DROPPED_COLUMN = "dropped column"
    NARROWED_TYPE = "narrowed type"
    CHANGED_TYPE = "changed type"
    NOW_REQUIRED = "nullable → required"

    @property
    def breaking(self) -> bool:
        return self in _BREAKING


_BREAKING = frozenset(
    {ChangeKind.DROPPED_COLUMN, ChangeKind.NARROWED_TYPE, ChangeKind.CHANGED_TYPE, ChangeKind.NOW_REQUIRED}
)


@dataclass(frozen=True)
class FieldRecord:
    """One column (a nested struct's fields as ``parent.child``), its Spark type and nullability."""

    name: str
    type: str
    nullable: bool


@dataclass(frozen=True)
class SchemaVersion:
    """One recorded schema: ``version`` is the declared schema version; ``revision`` counts the
    additive changes recorded since that version was first recorded."""

    version: int
    revision: int
    fields: tuple[FieldRecord, ...]

    @property
    def label(self) -> str:
        return str(self.version) if self.revision == 0 else f"{self.version}.{self.revision}"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "revision": self.revision,
            "fields": [{"name": f.name, "type": f.type, "nullable": f.nullable} for f in self.fields],
        }


@dataclass(frozen=True)
class SchemaChange:
    kind: ChangeKind
    column: str
    before: str = ""
    after: str = ""

    @property
    def breaking(self) -> bool:
        return self.kind.breaking

    def __str__(self) -> str:
        if self.before and self.after:
            detail = f" ({self.before} → {self.after})"
        else:
            detail = f" ({self.before or self.after})" if self.before or self.after else ""
        return f"{self.kind.value} {self.column}{detail}"


def schema_fields(schema: StructType) -> tuple[FieldRecord, ...]:
    """The schema's columns in order; a struct column is followed by its fields as ``a.b``."""
    from pyspark.sql.types import StructType

    def walk(struct: StructType, prefix: str) -> Iterable[FieldRecord]:
        for f in struct.fields:
            name = f"{prefix}{f.name}"
            yield FieldRecord(name, _type_name(f.dataType), f.nullable)
            if isinstance(f.dataType, StructType):
                yield from walk(f.dataType, f"{name}.")

    return tuple(walk(schema, ""))


def _type_name(data_type: DataType) -> str:
    from pyspark.sql.types import StructType

    return "struct" if isinstance(data_type, StructType) else data_type.simpleString()


def classify(before: Sequence[FieldRecord], after: Sequence[FieldRecord]) -> list[SchemaChange]:
    """What changed from ``before`` to ``after``, column by column (in ``before``'s order, then
    the added columns in ``after``'s order)."""
    old = {f.name: f for f in before}
    new = {f.name: f for f in after}
    changes: list[SchemaChange] = []
    for name, was in old.items():
        now = new.get(name)
        if now is None:
            changes.append(SchemaChange(ChangeKind.DROPPED_COLUMN, name, was.type))
            continue
        if now.type != was.type:
            if (was.type, now.type) in _WIDER:
                kind = ChangeKind.WIDENED_TYPE
            elif (now.type, was.type) in _WIDER:
                kind = ChangeKind.NARROWED_TYPE
            else:
                kind = ChangeKind.CHANGED_TYPE
            changes.append(SchemaChange(kind, name, was.type, now.type))
        if was.nullable and not now.nullable:
            changes.append(SchemaChange(ChangeKind.NOW_REQUIRED, name))
        elif now.nullable and not was.nullable:
            changes.append(SchemaChange(ChangeKind.NOW_NULLABLE, name))
    changes.extend(
        SchemaChange(ChangeKind.ADDED_COLUMN, name, after=f.type)
        for name, f in new.items()
        if name not in old
    )
    return changes


@dataclass(frozen=True)
class SchemaCheck:
    """Where a table's live schema stands against its record; ``problem`` is empty when they agree."""

    table: str
    declared_version: int
    changes: tuple[SchemaChange, ...]
    problem: str

    @property
    def breaking(self) -> tuple[SchemaChange, ...]:
        return tuple(c for c in self.changes if c.breaking)


def check(spec: TableSpec, history: Sequence[SchemaVersion]) -> SchemaCheck:
    """Compare ``spec``'s live schema and declared version with its recorded ``history``."""
    name = spec.qualified_name
    declared = spec.schema_version
    if not history:
        return SchemaCheck(
            name, declared, (), f"{name}: not in the schema record; record it with `{RECORD_COMMAND}`"
        )
    latest = history[-1]
    changes = tuple(classify(latest.fields, schema_fields(spec.schema)))
    listed = "; ".join(str(c) for c in changes)
    breaking = [c for c in changes if c.breaking]
    if declared < latest.version:
        problem = (
            f"{name}: schema_version {declared} is lower than the recorded version {latest.version}; "
            "a schema version never goes back"
        )
    elif breaking and declared == latest.version:
        problem = (
            f"{name}: breaking change ({'; '.join(str(c) for c in breaking)}): bump schema_version to "
            f"{latest.version + 1} in the table's declaration, then record it with `{RECORD_COMMAND}`"
        )
    elif changes:
        problem = f"{name}: schema changed ({listed}); record it with `{RECORD_COMMAND}`"
    elif declared > latest.version:
        problem = (
            f"{name}: schema_version {declared} is not recorded yet (recorded: {latest.label}); "
            f"record it with `{RECORD_COMMAND}`"
        )
    else:
        problem = ""
    return SchemaCheck(name, declared, changes, problem)


def record(spec: TableSpec, history: Sequence[SchemaVersion]) -> tuple[SchemaVersion, ...]:
    """``history`` with ``spec``'s live schema recorded; unchanged when it is recorded already.

    Raises :class:`SchemaHistoryError` for a breaking change whose declared version is not bumped.
    """
    fields = schema_fields(spec.schema)
    result = check(spec, history)
    if not history:
        return (SchemaVersion(spec.schema_version, 0, fields),)
    latest = history[-1]
    if spec.schema_version < latest.version or (result.breaking and spec.schema_version == latest.version):
        raise SchemaHistoryError(result.problem)
    if spec.schema_version > latest.version:
        return (*history, SchemaVersion(spec.schema_version, 0, fields))
    if result.changes:
        return (*history, SchemaVersion(latest.version, latest.revision + 1, fields))
    return tuple(history)


def read_record(path: Path) -> dict[str, tuple[SchemaVersion, ...]]:
    """The record at ``path`` (no file: no history)."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return {
            table: tuple(
                SchemaVersion(
                    int(v["version"]),
                    int(v["revision"]),
                    tuple(
                        FieldRecord(str(f["name"]), str(f["type"]), bool(f["nullable"])) for f in v["fields"]
                    ),
                )
                for v in versions
            )
            for table, versions in data.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SchemaHistoryError(
            f"{path}: not a schema record ({exc}); restore it from git or rewrite it with `{RECORD_COMMAND}`"
        ) from exc


def problems(tables: Iterable[TableSpec], history: Mapping[str, Sequence[SchemaVersion]]) -> list[str]:
    """Every way a product's record disagrees with its live tables, one message each."""
    declared = {spec.qualified_name: spec for spec in tables}
    found = [check(spec, history.get(name, ())).problem for name, spec in declared.items()]
    found.extend(
        f"{name}: in the schema record but no longer declared; record-schemas drops its history "
        f"(`{RECORD_COMMAND}`)"
        for name in history
        if name not in declared
    )
    return [p for p in found if p]


def write_record(path: Path, history: Mapping[str, Sequence[SchemaVersion]]) -> None:
    """Write the record with one line per field, so a schema change is a readable diff."""
    tables = []
    for table, versions in sorted(history.items()):
        entries = []
        for v in versions:
            fields = ",\n".join(
                "        " + json.dumps({"name": f.name, "type": f.type, "nullable": f.nullable})
                for f in v.fields
            )
            entries.append(
                f'    {{"version": {v.version}, "revision": {v.revision}, "fields": [\n{fields}\n    ]}}'
            )
        tables.append(f"  {json.dumps(table)}: [\n" + ",\n".join(entries) + "\n  ]")
    path.write_text("{\n" + ",\n".join(tables) + "\n}\n")
