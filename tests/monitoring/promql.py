"""Metric names out of PromQL expressions and Prometheus exposition text."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
LABEL_LISTS = r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
#: The series Prometheus writes itself for every target, not scraped from it.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
#: The samples each kind of family exposes.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


def metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers outside strings, label
    matchers, ranges and label lists that are not functions or keywords."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    bare = re.sub(LABEL_LISTS, " ", bare)
    names = set()
    for found in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", bare):
        if bare[found.end() :].lstrip().startswith("(") or found.group().lower() in PROMQL_WORDS:
            continue
        names.add(found.group())
    return names


def exported_names(exposition: str) -> set[str]:
    """Every sample name an exposition can hold: the samples present, and for each family
    (also one without samples yet, e.g. a labelled counter nothing incremented) the names its
    kind exposes."""
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        suffixes = SUFFIXES.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names
