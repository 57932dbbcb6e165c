"""The identity graph's transforms on a handful of hand-built links: the over-merge guard and the
connected components, expected values worked out by hand."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from pyspark.sql import DataFrame, SparkSession

from lakehouse_core.errors import JobError
from lakehouse_core.tables import SubjectKind
from user_segmentation.config import MergeLimit
from user_segmentation.processing.identity import edge_nodes, guard_over_merge, person_nodes

pytestmark = pytest.mark.unit

DAY1 = datetime(2026, 3, 1, 9, tzinfo=UTC)
WEB = "web-user-analytics"
MOBILE = "mobile-user-analytics"
EDGE_COLUMNS = (
    "subject_key string, node_id string, linked_id string, linked_id_kind string, source_product string, "
    "link_kind string, event_id string, linked_at timestamp, event_date date, source_table string"
)


def edge(
    subject: str, linked: str, kind: str, day: int, event: str, product: str = MOBILE
) -> tuple[object, ...]:
    at = DAY1 + timedelta(days=day - 1)
    return (
        subject, f"{product}:{kind}:{linked}", linked, kind, product, "sign_in", event, at, at.date(),
        f"{product}.silver.events",
    )  # fmt: skip


def edges(spark: SparkSession, *rows: tuple[object, ...]) -> DataFrame:
    return spark.createDataFrame(list(rows), EDGE_COLUMNS)


def person(key: str) -> str:
    return "p_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def test_links_past_the_limit_within_the_window_are_refused_with_the_reason(spark: SparkSession) -> None:
    shared = edges(
        spark,
        edge("a", "d1", "device_id", 1, "e1"),
        edge("b", "d1", "device_id", 2, "e2"),
        edge("c", "d1", "device_id", 3, "e3"),
        edge("d", "d1", "device_id", 4, "e4"),
        edge("a", "d1", "device_id", 5, "e5"),
        edge("e", "d1", "device_id", 40, "e6"),
        edge("d", "w1", "pseudonymous_id", 4, "e7", WEB),
    )

    judged = guard_over_merge(shared, {SubjectKind.DEVICE_ID: MergeLimit(max_subjects=3, window_days=30)})

    verdicts = {
        r["event_id"]: (r["accepted"], r["subjects_in_window"], r["refused_reason"]) for r in judged.collect()
    }
    assert verdicts == {
        "e1": (True, 1, None),
        "e2": (True, 2, None),
        "e3": (True, 3, None),
        "e4": (False, 4, "device_id linked to 4 subject keys within 30 days (limit 3)"),
        "e5": (True, 1, None),
        "e6": (True, 1, None),
        "e7": (True, 1, None),
    }


def test_components_take_the_smallest_subject_key_and_chains_join(spark: SparkSession) -> None:
    links = guard_over_merge(
        edges(
            spark,
            edge("b", "d1", "device_id", 1, "e1"),
            edge("a", "d1", "device_id", 2, "e2"),
            edge("c", "d2", "device_id", 1, "e3"),
            edge("z", "w9", "pseudonymous_id", 1, "e4", WEB),
        ),
        {SubjectKind.DEVICE_ID: MergeLimit(max_subjects=1, window_days=30)},
    )
    anonymous = spark.createDataFrame(
        [(f"{WEB}:pseudonymous_id:w1", "pseudonymous_id", WEB, None, "w1")],
        "node_id string, node_kind string, source_product string, subject_key string, linked_id string",
    )

    persons = person_nodes([edge_nodes(links), anonymous], links)

    found = {r["node_id"]: (r["person_id"], r["person_subject_key"]) for r in persons.collect()}
    assert found == {
        "subject:b": (person("b"), "b"),
        f"{MOBILE}:device_id:d1": (person("b"), "b"),
        "subject:a": (person("a"), "a"),
        "subject:c": (person("c"), "c"),
        f"{MOBILE}:device_id:d2": (person("c"), "c"),
        "subject:z": (person("z"), "z"),
        f"{WEB}:pseudonymous_id:w9": (person("z"), "z"),
        f"{WEB}:pseudonymous_id:w1": (person(f"{WEB}:pseudonymous_id:w1"), None),
    }


def test_propagation_joins_a_chain_and_refuses_to_stop_before_it_converges(spark: SparkSession) -> None:
    chain = guard_over_merge(
        edges(
            spark,
            edge("c", "d1", "device_id", 1, "e1"),
            edge("b", "d1", "device_id", 1, "e2"),
            edge("b", "w1", "pseudonymous_id", 1, "e3", WEB),
            edge("a", "w1", "pseudonymous_id", 1, "e4", WEB),
        ),
        {},
    )

    persons = person_nodes([edge_nodes(chain)], chain)
    assert {r["person_id"] for r in persons.collect()} == {person("a")}
    with pytest.raises(JobError, match="did not converge in 2 rounds"):
        person_nodes([edge_nodes(chain)], chain, max_iterations=2)
