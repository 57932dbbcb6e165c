"""The audit chain: linking in a deterministic order, extending a day without touching its
links, and verification naming the first link that does not hold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from compliance_auditing.processing.chain import GENESIS, ChainEnd, canonical_json, extend_chain, verify_chain

pytestmark = pytest.mark.unit

DAY = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def record(record_id: str, minute: int, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "record_id": record_id,
        "occurred_at": T0 + timedelta(minutes=minute),
        "service": "web-user-analytics",
        "api_key_id": "k1",
        "roles": ["analyst"],
        "action": "read",
        "resource_type": "endpoint",
        "resource": "GET /v1/users/{subject_key}",
        "resource_version": None,
        "subject_key": "sk-1",
        "outcome": "succeeded",
        "status_code": 200,
        "correlation_id": None,
        "detail": None,
    }
    return {**fields, **overrides}


def root_of(links: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(links), "root_hash": links[-1]["record_hash"]}


def chain_of_four() -> list[dict[str, Any]]:
    return extend_chain([record("c", 2), record("a", 0), record("d", 2), record("b", 1)], ChainEnd())


def test_links_follow_occurred_at_then_record_id_and_each_names_its_predecessor() -> None:
    links = chain_of_four()

    assert [(link["seq"], link["record_id"]) for link in links] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert links[0]["prev_hash"] == GENESIS
    assert [link["prev_hash"] for link in links[1:]] == [link["record_hash"] for link in links[:-1]]
    assert len({link["record_hash"] for link in links}) == 4


def test_an_intact_chain_verifies_with_its_root() -> None:
    links = chain_of_four()

    result = verify_chain(DAY, list(reversed(links)), root_of(links))

    assert result.intact, result.broken
    assert (result.links, result.root_hash) == (4, links[-1]["record_hash"])


def test_new_records_of_a_chained_day_extend_it_and_leave_its_links_alone() -> None:
    first = chain_of_four()
    stored = [dict(link) for link in first]
    late = extend_chain([record("e", 0)], ChainEnd(4, first[-1]["record_hash"]))

    assert stored == first
    assert (late[0]["seq"], late[0]["prev_hash"]) == (5, first[-1]["record_hash"])
    assert verify_chain(DAY, first + late, root_of(first + late)).intact


def test_a_changed_field_is_named_as_the_first_broken_link() -> None:
    links = chain_of_four()
    links[1] = {**links[1], "subject_key": "sk-someone-else"}

    result = verify_chain(DAY, links, root_of(links))

    assert (
        result.broken
        == "seq 2 (record_id b): record_hash does not match the record (a field or the hash was changed)"
    )


def test_a_recomputed_hash_of_a_changed_record_breaks_the_next_link() -> None:
    links = chain_of_four()
    forged = {**links[1], "outcome": "denied"}
    forged["record_hash"] = extend_chain([forged], ChainEnd(1, links[0]["record_hash"]))[0]["record_hash"]
    links[1] = forged

    result = verify_chain(DAY, links, root_of(chain_of_four()))

    assert result.broken == "seq 3 (record_id c): prev_hash does not match the hash of the link before it"


def test_a_removed_link_and_a_removed_last_link_are_found() -> None:
    links = chain_of_four()

    middle = verify_chain(DAY, [links[0], *links[2:]], root_of(links))
    last = verify_chain(DAY, links[:3], root_of(links))

    assert middle.broken == "seq 3 (record_id c): expected seq 2, a link is missing or repeated"
    assert last.broken == "root: 4 links recorded, 3 stored (links were removed or added)"


def test_canonical_json_is_independent_of_key_order_and_timezone() -> None:
    one = record("a", 0)
    other = dict(reversed(list(one.items())))
    other["occurred_at"] = one["occurred_at"].astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))

    assert canonical_json(one) == canonical_json(other)
    assert '"occurred_at":"2026-03-02T09:00:00.000000Z"' in canonical_json(one)
