import hashlib
import hmac
import json

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakehouse_core.privacy import GROUP_PII_KEYS, PII_KEYS, drop_json_keys, hmac_sha256, truncate_ip

pytestmark = pytest.mark.unit

TEXTS = ["user-42", "", "émile.zola@example.com", "日本語のユーザー", "a" * 200]
KEYS = [b"k", b"secret-key-for-tests", bytes(range(64)), b"long key " * 12]


@pytest.mark.parametrize("key", KEYS, ids=["1-byte", "20-byte", "64-byte", "108-byte"])
def test_hmac_sha256_equals_pythons_hmac(spark: SparkSession, key: bytes) -> None:
    rows = spark.createDataFrame([(t,) for t in TEXTS], "text string")

    got = [r.h for r in rows.select(hmac_sha256(F.col("text"), key).alias("h")).collect()]

    assert got == [hmac.new(key, t.encode(), hashlib.sha256).hexdigest() for t in TEXTS]


def test_hmac_sha256_depends_on_the_key_and_keeps_null(spark: SparkSession) -> None:
    rows = spark.createDataFrame([("user-42",), (None,)], "text string")

    first = rows.select(hmac_sha256(F.col("text"), b"one").alias("h")).collect()
    second = rows.select(hmac_sha256(F.col("text"), b"two").alias("h")).collect()

    assert first[0].h != second[0].h
    assert first[1].h is None


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.57", "203.0.113.0"),
        (" 10.1.2.255 ", "10.1.2.0"),
        ("255.255.255.255", "255.255.255.0"),
        ("256.1.1.1", None),
        ("1.2.3", None),
        ("01.2.3.4", None),
        ("2001:0DB8:85a3:0000:0000:8a2e:0370:7334", "2001:db8:85a3::"),
        ("2001:db8::1", "2001:db8:0::"),
        ("::1", "0:0:0::"),
        ("fe80::", "fe80:0:0::"),
        ("2001:db8:1:2:3:4:5:6:7", None),
        ("2001::db8::1", None),
        ("1:::2", None),
        ("2001:db8:zzzz::1", None),
        ("not an ip", None),
        ("", None),
        (None, None),
    ],
)
def test_truncate_ip(spark: SparkSession, address: str | None, network: str | None) -> None:
    row = spark.createDataFrame([(address,)], "ip string").select(truncate_ip(F.col("ip")).alias("n")).first()

    assert row is not None
    assert row.n == network


def test_drop_json_keys_removes_pii_ignoring_case_and_separators(spark: SparkSession) -> None:
    raw = json.dumps(
        {
            "plan": "pro",
            "Email": "ada@example.com",
            "first_name": "Ada",
            "LastName": "Lovelace",
            "PHONE": "+44 20 7946 0000",
            "ip": "203.0.113.57",
            "price": 9.5,
            "items": [1, 2],
            "nested": {"email": "kept@nested"},
            "none": None,
        }
    )
    row = spark.createDataFrame([(raw,)], "j string").select(drop_json_keys(F.col("j")).alias("o")).first()

    assert row is not None
    assert json.loads(row.o) == {
        "plan": "pro",
        "price": 9.5,
        "items": [1, 2],
        "nested": {"email": "kept@nested"},
        "none": None,
    }


def test_drop_json_keys_with_custom_keys_and_non_objects(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [('{"a": 1, "b": 2}',), ("[1, 2]",), ("not json",), ("{}",), (None,)], "j string"
    )

    got = [r.o for r in rows.select(drop_json_keys(F.col("j"), ["B"]).alias("o")).collect()]

    assert got == ['{"a":1}', None, None, "{}", None]


def test_pii_keys_cover_the_common_identifiers() -> None:
    assert {"email", "phone", "name", "firstName", "lastName", "address", "birthday", "ssn", "ip"} <= set(
        PII_KEYS
    )


def test_group_keys_keep_a_company_name_and_still_drop_contact_details() -> None:
    assert "name" in PII_KEYS
    assert "name" not in GROUP_PII_KEYS
    assert {"email", "phone", "firstName", "lastName", "address"} <= set(GROUP_PII_KEYS)
    assert set(GROUP_PII_KEYS) == set(PII_KEYS) - {"name"}
