"""Every service's OpenAPI document tells the truth: schemathesis generates requests from each
``/openapi.json`` and sends them over real HTTP to the real app (APIs on a small Delta lake,
collectors on the test Kafka broker). Any 5xx, any status the document does not list, and any
answer that breaks its documented schema, content type or headers fails the test."""

from __future__ import annotations

import inspect
import re
import types
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Union, get_args, get_origin

import httpx
import pyarrow as pa
import pytest
import schemathesis
from deltalake import write_deltalake
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from pydantic import BaseModel, SecretStr
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import mobile_user_analytics.contracts as mobile_contracts
import web_user_analytics.contracts as web_contracts
from lakehouse_core.config import CollectorSettings, ProductConfig, TopicConfig
from lakehouse_core.contracts import spark_schema
from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_core.serving.contracts import arrow_schema
from lakehouse_core.serving.params import utc_today
from lakehouse_core.tables import TableSpec
from lakehouse_events.collector import product_collector_app
from lakehouse_testing.plugin import KafkaFixture, serve_in_thread
from mobile_user_analytics.config import load_mobile_config
from mobile_user_analytics.serving.app import SERVED_SPECS as MOBILE_SERVED
from mobile_user_analytics.serving.app import create_app as create_mobile_api
from web_user_analytics.config import load_web_config
from web_user_analytics.serving.app import SERVED_SPECS as WEB_SERVED
from web_user_analytics.serving.app import create_app as create_web_api
from web_user_analytics.storage.tables import GOLD_RETENTION

pytestmark = pytest.mark.integration

#: Examples per operation and generation mode: enough to reach every documented status of these
#: small operations, few enough that the four services are fuzzed in about a minute. The six
#: single-call routes of a collector share their handling, and each call waits for Kafka.
MAX_EXAMPLES = 20
COLLECTOR_MAX_EXAMPLES = 12


def no_server_error(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    """Any 5xx but 503 is a defect. 503 is documented (not ready, a table not built yet, Kafka
    not acknowledging) and ``status_code_conformance`` checks each route lists it."""
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(
            f"{response.status_code} from {case.method} {case.formatted_path}: {response.text[:500]}"
        )
    return None


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
WRITE_KEY = "fuzz-write-key"
API_KEY = "fuzz-api-key"


def fuzz(openapi_url: str, *, max_examples: int = MAX_EXAMPLES, **transport: Any) -> dict[str, Counter[int]]:
    """Runs schemathesis on every operation of the document at ``openapi_url``, valid and
    invalid requests alike; ``transport`` (headers, auth) goes with every request. Returns the
    statuses each operation answered."""
    schema = schemathesis.openapi.from_url(openapi_url)
    failures: list[str] = []
    statuses: dict[str, Counter[int]] = defaultdict(Counter)
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=max_examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case[Any]) -> None:
                response = case.call_and_validate(checks=CHECKS, timeout=30, **transport)
                statuses[case.operation.label][response.status_code] += 1

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, (
                    f"{operation.label}: no valid request can be generated"
                )
                # An operation without parameters or body has no invalid request to send.
            except Exception as exc:
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    return statuses


def assert_docs_served_locally(url: str) -> None:
    """``/docs`` names only assets of the service itself, and each one is there."""
    page = httpx.get(f"{url}/docs", timeout=10)
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets, page.text
    assert "://" not in page.text, page.text
    for asset in assets:
        answer = httpx.get(f"{url}{asset}", timeout=10)
        assert answer.status_code == 200, asset
        assert answer.headers["content-type"].startswith(("text/javascript", "text/css", "image/png")), asset


def assert_keys_accepted(statuses: dict[str, Counter[int]]) -> None:
    """The configured key opened every operation at least once: a fuzz run answered only with
    401 would prove nothing about the routes behind it."""
    shut = [label for label, seen in statuses.items() if not set(seen) - {401, 403}]
    assert not shut, f"only 401/403 from {shut}: {dict(statuses)}"


def sample_value(annotation: Any, *, day: date) -> Any:
    """A plain value of ``annotation`` (a contract field type); dates are ``day``."""
    if get_origin(annotation) in (Union, types.UnionType):
        return sample_value(next(a for a in get_args(annotation) if a is not type(None)), day=day)
    if get_origin(annotation) is list:
        return [sample_value(get_args(annotation)[0], day=day)]
    samples: dict[Any, Any] = {
        date: day,
        datetime: datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9),
        str: "all",
        int: 3,
        float: 0.5,
        bool: True,
    }
    return samples[annotation]


def contract_of(spec: TableSpec, contracts: types.ModuleType) -> type[BaseModel]:
    models = [m for _, m in inspect.getmembers(contracts, inspect.isclass) if issubclass(m, BaseModel)]
    return next(m for m in models if m.__module__ == contracts.__name__ and spark_schema(m) == spec.schema)


def small_lake(lake_root: str, specs: Sequence[TableSpec], contracts: types.ModuleType) -> None:
    """One row per table of ``specs``, dated this week's Monday (inside the default date range)."""
    today = utc_today()
    monday = today - timedelta(days=today.weekday())
    for spec in specs:
        model = contract_of(spec, contracts)
        row = {name: sample_value(field.annotation, day=monday) for name, field in model.model_fields.items()}
        table = pa.Table.from_pylist([row], schema=arrow_schema(model))
        write_deltalake(spec.location(lake_root), table, partition_by=list(spec.partition_by) or None)


def test_the_web_api_answers_as_documented(lake_root: str) -> None:
    # Retention is left unbuilt: its route answers the documented 503.
    small_lake(lake_root, [s for s in WEB_SERVED if s is not GOLD_RETENTION], web_contracts)
    config = load_web_config().model_copy(update={"api_keys": {API_KEY: ["analyst", "user_reader"]}})
    with serve_in_thread(create_web_api(config, lake_root=lake_root)) as url:
        statuses = fuzz(f"{url}/openapi.json", headers={API_KEY_HEADER: API_KEY})
        assert_docs_served_locally(url)
    assert_keys_accepted(statuses)


def test_the_mobile_api_answers_as_documented(lake_root: str) -> None:
    # Crash-free is left unbuilt: its route answers the documented 503.
    small_lake(lake_root, [s for s in MOBILE_SERVED if s.name != "crash_free"], mobile_contracts)
    config = load_mobile_config().model_copy(update={"api_keys": {API_KEY: ["analyst", "device_reader"]}})
    with serve_in_thread(create_mobile_api(config, lake_root=lake_root)) as url:
        statuses = fuzz(f"{url}/openapi.json", headers={API_KEY_HEADER: API_KEY})
        assert_docs_served_locally(url)
    assert_keys_accepted(statuses)


def collector_of(product: ProductConfig, topic: str, bootstrap: str) -> FastAPI:
    """``product``'s collector with a write key, on topics of this test alone."""
    return product_collector_app(
        product.model_copy(
            update={
                "topics": {
                    "events": TopicConfig(name=topic, partitions=1),
                    "dead_letter": TopicConfig(name=f"{topic}.dlq", partitions=1),
                }
            }
        ),
        CollectorSettings(write_keys=[SecretStr(WRITE_KEY)]),
        bootstrap_servers=bootstrap,
    )


@pytest.mark.parametrize("load", [load_web_config, load_mobile_config], ids=["web", "mobile"])
def test_the_collectors_answer_as_documented(
    load: Any, kafka_broker: KafkaFixture, unique_topic: str
) -> None:
    app = collector_of(load(), unique_topic, kafka_broker.bootstrap_servers)
    with serve_in_thread(app) as url:
        statuses = fuzz(f"{url}/openapi.json", max_examples=COLLECTOR_MAX_EXAMPLES, auth=(WRITE_KEY, ""))
        assert_docs_served_locally(url)
    assert_keys_accepted(statuses)
    assert statuses["POST /v1/batch"][200] > 0, dict(statuses)


def test_the_documents_declare_the_api_key_the_write_key_and_the_segment_bodies(
    lake_root: str, kafka_broker: KafkaFixture, unique_topic: str
) -> None:
    api = create_web_api(load_web_config(), lake_root=lake_root).openapi()
    assert api["components"]["securitySchemes"]["APIKeyHeader"] == {
        **api["components"]["securitySchemes"]["APIKeyHeader"],
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
    }
    protected = {path: ops["get"] for path, ops in api["paths"].items() if path.startswith("/v1/")}
    assert protected
    for path, operation in protected.items():
        assert operation["security"] == [{"APIKeyHeader": []}], path
        assert {"401", "403"} <= set(operation["responses"]), path
        assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorResponse"
        }, path

    collector = collector_of(load_web_config(), unique_topic, kafka_broker.bootstrap_servers).openapi()
    assert collector["components"]["securitySchemes"]["writeKey"]["scheme"] == "basic"
    batch = collector["paths"]["/v1/batch"]["post"]
    assert batch["security"] == [{"writeKey": []}]
    body = batch["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/SegmentBatch"}
    message = collector["components"]["schemas"]["SegmentMessage"]
    assert {"messageId", "anonymousId", "userId", "event", "context"} <= set(message["properties"])
    assert set(batch["responses"]) == {"200", "400", "401", "413", "415", "503"}
