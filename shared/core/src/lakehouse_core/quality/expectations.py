"""Expectations: a named SQL condition each row must satisfy, and what to do when it does not.

Conditions are Spark SQL strings rather than Column objects so that rules can be declared in
product YAML, shown in docs, and built without a running Spark. A row passes a rule only when
the condition is TRUE: a NULL result fails it. The value checks (range, pattern, accepted
values) pass NULL values on purpose; pair them with :func:`not_null` where NULL is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Action = Literal["warn", "drop", "fail"]


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """``warn`` keeps failing rows and counts them; ``drop`` sends them to quarantine with the
    names of the rules they failed; ``fail`` stops the run if any row fails."""

    name: str
    condition: str
    action: Action = "drop"


def quote_identifier(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def sql_literal(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def not_null(column: str, *, action: Action = "drop", name: str | None = None) -> Expectation:
    return Expectation(
        name=name or f"{column}_not_null",
        condition=f"{quote_identifier(column)} IS NOT NULL",
        action=action,
    )


def unique(*columns: str, action: Action = "drop", name: str | None = None) -> Expectation:
    """Every row whose key occurs more than once in the frame fails."""
    keys = ", ".join(quote_identifier(c) for c in columns)
    return Expectation(
        name=name or f"{'_'.join(columns)}_unique",
        condition=f"count(1) OVER (PARTITION BY {keys}) = 1",
        action=action,
    )


def in_range(
    column: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    action: Action = "drop",
    name: str | None = None,
) -> Expectation:
    if min_value is None and max_value is None:
        raise ValueError(f"in_range({column!r}) needs min_value, max_value or both")
    col = quote_identifier(column)
    bounds = []
    if min_value is not None:
        bounds.append(f"{col} >= {sql_literal(min_value)}")
    if max_value is not None:
        bounds.append(f"{col} <= {sql_literal(max_value)}")
    return Expectation(
        name=name or f"{column}_in_range",
        condition=f"{col} IS NULL OR ({' AND '.join(bounds)})",
        action=action,
    )


def matches(column: str, pattern: str, *, action: Action = "drop", name: str | None = None) -> Expectation:
    """The value matches the Java regular expression ``pattern`` (anywhere; anchor it with ^$)."""
    col = quote_identifier(column)
    return Expectation(
        name=name or f"{column}_matches",
        condition=f"{col} IS NULL OR {col} RLIKE {sql_literal(pattern)}",
        action=action,
    )


def accepted_values(
    column: str, values: Iterable[object], *, action: Action = "drop", name: str | None = None
) -> Expectation:
    col = quote_identifier(column)
    listed = ", ".join(sql_literal(v) for v in values)
    if not listed:
        raise ValueError(f"accepted_values({column!r}) needs at least one value")
    return Expectation(
        name=name or f"{column}_accepted_values",
        condition=f"{col} IS NULL OR {col} IN ({listed})",
        action=action,
    )


def expect(name: str, condition: str, *, action: Action = "drop") -> Expectation:
    """A rule from any Spark SQL boolean expression, e.g. ``"ended_at >= started_at"``."""
    return Expectation(name=name, condition=condition, action=action)
