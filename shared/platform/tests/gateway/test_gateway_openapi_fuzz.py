"""The gateway's merged OpenAPI document tells the truth: schemathesis generates valid requests
for every GET operation from ``/openapi.json`` and sends them over real HTTP to the gateway, with a
key that holds every role but ``user_reader`` (so every route opens and every answer is masked).
No 5xx but a documented 503, no status the document does not list, no answer that breaks its
schema."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_platform.gateway.config import SUBJECT_READER, load_gateway_config
from lakehouse_platform.gateway.keys import Quota

from .lake import Gateway

pytestmark = pytest.mark.integration

#: Examples per operation: few, so that the ~50 operations of the merged document take seconds.
MAX_EXAMPLES = 4


def no_server_error(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(
            f"{response.status_code} from {case.method} {case.formatted_path}: {response.text[:500]}"
        )
    return None


CHECKS = [no_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_operation_answers_as_the_merged_document_says(gateway: Gateway) -> None:
    held = [r for r in load_gateway_config().roles if r != SUBJECT_READER]
    quota = Quota(per_minute=10**6, per_day=10**6)
    key = gateway.store.create(owner="fuzz", roles=held, valid_for=timedelta(days=1), quota=quota).secret
    schema = schemathesis.openapi.from_url(f"{gateway.url}/openapi.json")
    failures: list[str] = []
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if operation.method.upper() != "GET":
            continue

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        def check(case: schemathesis.Case[Any]) -> None:
            response = case.call_and_validate(checks=CHECKS, timeout=30, headers={API_KEY_HEADER: key})
            statuses[case.operation.label][response.status_code] += 1

        try:
            check()
        except Exception as exc:
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(statuses) >= 40
