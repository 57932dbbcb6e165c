"""The collector's body schemas say what the contract accepts: a body the schema allows is one
the collector's SegmentMessage validation allows, and the other way round."""

from typing import Any

import jsonschema_rs
import pytest
from pydantic import ValidationError

from lakehouse_events.collector.openapi import payload_schemas, single_call_schema
from lakehouse_events.segment import SegmentMessage

pytestmark = pytest.mark.unit

MESSAGES = [
    {"type": "page", "anonymousId": "a-1"},
    {"type": "track", "userId": "u-1", "event": "Signed Up", "context": {"page": {"path": "/"}}},
    {"type": "identify", "userId": "u-1", "traits": {"plan": "pro"}, "customField": 1},
    {"type": "page"},
    {"type": "page", "anonymousId": "a-1", "timestamp": 1700000000},
    {"type": "pageview", "anonymousId": "a-1"},
    {"type": "screen", "anonymousId": "a-1", "context": {"screen": {"width": "wide"}}},
    {"type": "page", "userId": ""},
    {"type": "track", "anonymousId": "a-1"},
    {"type": "track", "anonymousId": "a-1", "event": ""},
    {"type": "alias", "userId": "u-2"},
    {"type": "alias", "userId": "u-2", "previousId": "a-1"},
    {"type": "group", "userId": "u-1"},
    {"type": "group", "userId": "u-1", "groupId": "g-1"},
]


def validator(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for({**schema, "components": {"schemas": payload_schemas()}})


def accepted_by_contract(message: dict[str, Any]) -> bool:
    try:
        SegmentMessage.model_validate(message)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: str(sorted(m.items()))[:60])
def test_the_message_schema_and_the_contract_agree(message: dict[str, Any]) -> None:
    schema = validator({"$ref": "#/components/schemas/SegmentMessage"})
    assert schema.is_valid(message) == accepted_by_contract(message)


def test_a_single_call_route_allows_its_own_type_or_none() -> None:
    track = validator(single_call_schema("track"))
    assert track.is_valid({"type": "track", "userId": "u", "event": "E"})
    assert track.is_valid({"userId": "u", "event": "E"})
    assert not track.is_valid({"type": "page", "userId": "u"})
    assert not track.is_valid({"userId": "u"}), "a track call without an event is refused"
