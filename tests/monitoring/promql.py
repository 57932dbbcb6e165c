"""Metric names out of Prometheus exposition text (and, from the test kit, out of PromQL
expressions)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from lakehouse_testing.promql import metric_names

__all__ = ["SCRAPE_SERIES", "SUFFIXES", "exported_names", "metric_names"]

#: The series Prometheus writes itself for every target, not scraped from it.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
#: The samples each kind of family exposes.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("_sum", "_count", "_created"),
}


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
