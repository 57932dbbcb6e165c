"""Which rows are a subject's: the match condition per subject column and whole-token matching."""

from __future__ import annotations

import re

import pytest

from compliance_auditing.processing.erasure import Subject, match_condition, token_pattern
from lakehouse_core.tables import SubjectKind

pytestmark = pytest.mark.unit


def test_each_kind_of_subject_column_is_matched_its_own_way() -> None:
    condition = match_condition(
        {
            "subject_key": SubjectKind.SUBJECT_KEY,
            "visitor_id": SubjectKind.PSEUDONYMOUS_ID,
            "device_key": SubjectKind.DEVICE_ID,
            "key": SubjectKind.USER_ID,
            "value": SubjectKind.FREE_TEXT,
            "ip_truncated": SubjectKind.IP,
        }
    )

    assert condition == (
        "(array_contains(s.linked_ids, t.`device_key`)) OR (array_contains(s.clear_ids, t.`key`)) OR "
        "(t.`subject_key` = s.subject_key) OR (regexp_like(CAST(t.`value` AS STRING), s.pattern)) OR "
        "(array_contains(s.linked_ids, t.`visitor_id`))"
    )
    assert match_condition({"ip_truncated": SubjectKind.IP}) is None
    assert match_condition({}) is None


def test_a_token_matches_only_as_a_whole_identifier() -> None:
    pattern = re.compile(token_pattern(["u-42", "a.b"]))

    assert pattern.search('{"userId":"u-42","x":1}')
    assert pattern.search("?uid=u-42&y")
    assert not pattern.search('{"userId":"u-420"}')
    assert not pattern.search('{"userId":"xu-42"}')
    assert not pattern.search("axb")
    assert not re.search(token_pattern([]), "anything")


def test_search_tokens_add_the_prefixes_delta_statistics_keep() -> None:
    key = "f" * 64
    subject = Subject(key, linked_ids=("e" * 64,), clear_ids=("u-1",))

    assert subject.tokens == ("e" * 64, key, "u-1")
    assert set(subject.search_tokens) == {key, "e" * 64, "u-1", "f" * 32, "e" * 32}
