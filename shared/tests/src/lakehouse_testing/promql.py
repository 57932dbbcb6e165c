"""Metric names out of PromQL expressions, to check that dashboards and alert rules only use
metrics a service exports."""

from __future__ import annotations

import re

#: PromQL words that look like metric names.
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
#: The label-list clauses, whose labels look like metric names.
LABEL_LISTS = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers outside strings, label
    matchers, ranges and label lists that are not functions or keywords."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(LABEL_LISTS, " ", bare)
    names: set[str] = set()
    for found in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", bare):
        if bare[found.end() :].lstrip().startswith("(") or found.group().lower() in PROMQL_WORDS:
            continue
        names.add(found.group())
    return names
