"""The platform's subject key: one HMAC of the user id, the same in Spark and in Python, taken
from the environment only, and computed at ingest for bronze and quarantine rows."""

import hashlib
import hmac
import json
import logging
from datetime import datetime

import pytest
from pydantic import SecretStr
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse_core.errors import ConfigError
from lakehouse_core.ingestion.bronze import BRONZE_SCHEMA, to_bronze
from lakehouse_core.ingestion.quarantine import QUARANTINE_SCHEMA, QUARANTINE_TABLE_SCHEMA, with_subject_key
from lakehouse_core.privacy import (
    DEVELOPMENT_SUBJECT_KEY,
    SUBJECT_KEY_VARIABLE,
    platform_subject_key,
    subject_key,
    subject_key_of,
    subject_key_of_json,
    subject_key_sql,
)
from lakehouse_core.settings import LakehouseSettings

pytestmark = pytest.mark.unit

KEY = b"platform-subject-key"


def expected(user_id: str) -> str:
    return hmac.new(KEY, user_id.encode(), hashlib.sha256).hexdigest()


def test_subject_key_is_the_hmac_of_the_trimmed_user_id_and_null_without_one(spark: SparkSession) -> None:
    ids = ["user-42", "  user-42 ", "émile", "", "   ", None]
    rows = spark.createDataFrame([(i,) for i in ids], "user_id string")

    got = [r.k for r in rows.select(subject_key(F.col("user_id"), KEY).alias("k")).collect()]

    assert got == [expected("user-42"), expected("user-42"), expected("émile"), None, None, None]
    assert [subject_key_of(i, KEY) for i in ids] == got


def test_subject_key_of_json_reads_user_id_and_is_null_when_absent_or_not_json(spark: SparkSession) -> None:
    payloads = [
        json.dumps({"userId": "user-42", "anonymousId": "anon-1"}),
        json.dumps({"anonymousId": "anon-1"}),
        json.dumps({"userId": None}),
        "{not json",
        json.dumps(["userId", "user-42"]),
        None,
    ]
    rows = spark.createDataFrame([(p,) for p in payloads], "payload string")

    got = [r.k for r in rows.select(subject_key_of_json(F.col("payload"), KEY).alias("k")).collect()]

    assert got == [expected("user-42"), None, None, None, None, None]


def test_platform_subject_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SUBJECT_KEY_VARIABLE, "from-the-environment")

    assert platform_subject_key() == b"from-the-environment"


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_platform_subject_key_is_required_outside_dev(environment: str) -> None:
    settings = LakehouseSettings(environment=environment, subject_key=None)  # type: ignore[arg-type]

    with pytest.raises(ConfigError, match=SUBJECT_KEY_VARIABLE):
        platform_subject_key(settings)


def test_platform_subject_key_in_dev_falls_back_to_the_development_key_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = LakehouseSettings(environment="dev", subject_key=SecretStr(""))

    with caplog.at_level(logging.WARNING):
        key = platform_subject_key(settings)

    assert key == DEVELOPMENT_SUBJECT_KEY.encode()
    assert SUBJECT_KEY_VARIABLE in caplog.text


def test_bronze_rows_carry_the_subject_key_of_their_payload(spark: SparkSession) -> None:
    at = datetime(2024, 3, 10, 10, 0)
    values = [
        json.dumps({"userId": "user-42", "messageId": "m1"}),
        json.dumps({"anonymousId": "a"}),
        "\x00oops",
    ]
    kafka = spark.createDataFrame(
        [(None, v.encode(), "events", 0, i, at) for i, v in enumerate(values)],
        "key binary, value binary, topic string, partition int, offset long, timestamp timestamp",
    )

    bronze = to_bronze(kafka, subject_key=KEY)

    assert bronze.schema.fieldNames() == BRONZE_SCHEMA.fieldNames()
    assert [r.subject_key for r in bronze.orderBy("offset").collect()] == [expected("user-42"), None, None]


def test_quarantine_rows_get_the_subject_key_of_their_raw_record(spark: SparkSession) -> None:
    at = datetime(2024, 3, 10, 10, 0)
    raws = [json.dumps({"userId": "user-42", "messageId": "m1"}), "{broken"]
    rows = spark.createDataFrame(
        [("events", 0, i, None, raw, ["valid_json"], "why", at) for i, raw in enumerate(raws)],
        QUARANTINE_SCHEMA,
    )

    entries = with_subject_key(rows, key=KEY)

    assert [(f.name, f.dataType) for f in entries.schema.fields] == [
        (f.name, f.dataType) for f in QUARANTINE_TABLE_SCHEMA.fields
    ]
    assert [r.subject_key for r in entries.orderBy("source_offset").collect()] == [expected("user-42"), None]


def test_the_sql_subject_key_equals_the_python_one(spark: SparkSession) -> None:
    key = b"a-platform-key-longer-than-one-sha256-block-of-sixty-four-bytes-so-it-is-hashed-first"
    rows = spark.createDataFrame([(" user-1 ",), ("",), (None,), ("ü-2",)], "id string")

    found = [r[0] for r in rows.selectExpr(f"{subject_key_sql('id', key)} AS k").collect()]

    assert found == [subject_key_of("user-1", key), None, None, subject_key_of("ü-2", key)]
    assert [r[0] for r in rows.select(subject_key(F.col("id"), b"short")).collect()] == [
        r[0] for r in rows.selectExpr(f"{subject_key_sql('id', b'short')} AS k").collect()
    ]
