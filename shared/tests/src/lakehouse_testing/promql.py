"""Metric names out of PromQL expressions, to check that dashboards and alert rules only use
metrics a service exports; and promtool, to check and unit-test the alert rules."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

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


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool (Debian's ``prometheus`` package, installed by ``make setup``); a test that
    needs it fails, never skips, without it."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is not installed: run `make setup` (it installs Debian's prometheus package)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, check=False)
