"""Identity links from a handful of silver events: which events link, with what evidence, once."""

from datetime import date, datetime

import pytest
from pyspark.sql import SparkSession

from lakehouse_core.errors import ConfigError
from lakehouse_core.identity import IdentityLink, LinkKind, LinkRule, identity_links, identity_links_table
from lakehouse_core.tables import SubjectKind

pytestmark = pytest.mark.unit

RULES = (
    LinkRule("identify", "anonymous_id", SubjectKind.PSEUDONYMOUS_ID, LinkKind.IDENTIFY),
    LinkRule("alias", "previous_id", SubjectKind.PSEUDONYMOUS_ID, LinkKind.ALIAS),
)
SOURCE = "demo.silver.events"
AT = datetime(2024, 3, 10, 9, 30)
DAY = date(2024, 3, 10)
COLUMNS = (
    "event_id string, event_type string, event_ts timestamp, event_date date, "
    "subject_key string, anonymous_id string, previous_id string"
)
EVENTS = [
    ("e1", "identify", AT, DAY, "subject-1", "anon-1", None),
    ("e2", "alias", AT, DAY, "subject-1", "anon-2", "earlier-1"),
    ("e3", "identify", AT, DAY, None, "anon-3", None),
    ("e4", "track", AT, DAY, "subject-1", "anon-1", None),
    ("e5", "identify", AT, DAY, "subject-2", None, None),
]


def link_rows(spark: SparkSession, events: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    links = identity_links(spark.createDataFrame(events, COLUMNS), RULES, source_table=SOURCE)
    return sorted(tuple(r) for r in links.collect())


def test_identify_and_alias_link_a_subject_with_their_evidence_and_nothing_else_links(
    spark: SparkSession,
) -> None:
    assert link_rows(spark, EVENTS) == [
        ("subject-1", "anon-1", "pseudonymous_id", "identify", "e1", AT, DAY, SOURCE),
        ("subject-1", "earlier-1", "pseudonymous_id", "alias", "e2", AT, DAY, SOURCE),
    ]


def test_a_replayed_event_yields_no_second_link(spark: SparkSession) -> None:
    assert link_rows(spark, [*EVENTS, *EVENTS[:2]]) == link_rows(spark, EVENTS)
    assert len(link_rows(spark, [*EVENTS, *EVENTS[:2]])) == 2


def test_the_links_table_declares_its_subject_columns() -> None:
    spec = identity_links_table("demo")

    assert spec.qualified_name == "demo.silver.identity_links"
    assert spec.subject_columns["subject_key"] is SubjectKind.SUBJECT_KEY
    assert spec.schema.fieldNames() == list(IdentityLink.model_fields)
    assert spec.upstream == ("demo.silver.events",)


def test_a_declared_subject_column_must_be_a_column_of_the_table() -> None:
    from lakehouse_core.tables import Layer, declare_table

    with pytest.raises(ConfigError, match="visitor_id named in the declaration"):
        declare_table(
            "demo",
            "links",
            Layer.SILVER,
            IdentityLink,
            "event_date",
            upstream=(),
            subject_columns={"visitor_id": SubjectKind.PSEUDONYMOUS_ID},
        )
