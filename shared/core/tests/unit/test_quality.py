import pytest
from pyspark.sql import SparkSession

from lakehouse_core.errors import DataError, QualityError, SystemicBreakageError
from lakehouse_core.quality.expectations import (
    accepted_values,
    expect,
    in_range,
    matches,
    not_null,
    unique,
)
from lakehouse_core.quality.runner import FAILED_RULES, QUARANTINE_REASON, ExpectationSuite, apply_suite

pytestmark = pytest.mark.unit

COLUMNS = "id string, amount int, email string, kind string"
ROWS = [
    ("a", 10, "x@example.com", "track"),
    ("b", -5, "not-an-email", "track"),
    (None, 3, None, "page"),
    ("d", 500, "y@example.com", "bogus"),
    ("d", 7, "z@example.com", "page"),
]


def suite(**overrides: object) -> ExpectationSuite:
    rules = [
        not_null("id"),
        in_range("amount", min_value=0, max_value=100),
        matches("email", r"^[^@]+@[^@]+$", action="warn"),
        accepted_values("kind", ["track", "page"]),
    ]
    return ExpectationSuite(name="events", expectations=rules, **overrides)  # type: ignore[arg-type]


def test_drop_rules_quarantine_rows_with_their_rule_names(spark: SparkSession) -> None:
    outcome = apply_suite(spark.createDataFrame(ROWS, COLUMNS), suite())

    assert sorted(r.id for r in outcome.valid.collect() if r.id) == ["a", "d"]
    assert FAILED_RULES not in outcome.valid.columns
    quarantined = {(r.id, tuple(r[FAILED_RULES])): r[QUARANTINE_REASON] for r in outcome.quarantine.collect()}
    assert set(quarantined) == {
        ("b", ("amount_in_range", "email_matches")),
        (None, ("id_not_null",)),
        ("d", ("amount_in_range", "kind_accepted_values")),
    }
    assert quarantined[(None, ("id_not_null",))] == "events: failed id_not_null"


def test_result_counts_rows_per_rule(spark: SparkSession) -> None:
    result = apply_suite(spark.createDataFrame(ROWS, COLUMNS), suite()).result
    assert (result.rows_in, result.rows_passed, result.rows_quarantined) == (5, 2, 3)
    assert result.as_record()["failures"] == {
        "id_not_null": 1,
        "amount_in_range": 2,
        "email_matches": 1,
        "kind_accepted_values": 1,
    }


def test_warn_rule_keeps_the_row(spark: SparkSession) -> None:
    rows = [("a", 1, "broken", "track")]
    outcome = apply_suite(spark.createDataFrame(rows, COLUMNS), suite())
    assert outcome.valid.count() == 1
    assert outcome.result.rules[2].failed == 1


def test_fail_rule_stops_the_run(spark: SparkSession) -> None:
    strict = ExpectationSuite(name="strict", expectations=[not_null("id", action="fail")])
    with pytest.raises(
        QualityError, match="suite strict: fail rules violated: id_not_null: 1 of 5 rows"
    ) as raised:
        apply_suite(spark.createDataFrame(ROWS, COLUMNS), strict)
    assert isinstance(raised.value, DataError)
    assert (raised.value.failures, raised.value.rows) == ({"id_not_null": 1}, 5)


def test_unique_and_custom_sql_rules(spark: SparkSession) -> None:
    rules = ExpectationSuite(
        name="keys",
        expectations=[unique("id"), expect("amount_below_kind_limit", "amount < 100 OR kind = 'page'")],
    )
    outcome = apply_suite(spark.createDataFrame(ROWS, COLUMNS), rules)
    failed = sorted((r.amount, list(r[FAILED_RULES])) for r in outcome.quarantine.collect())
    assert failed == [(7, ["id_unique"]), (500, ["id_unique", "amount_below_kind_limit"])]
    assert outcome.result.as_record()["failures"] == {"id_unique": 2, "amount_below_kind_limit": 1}


def test_systemic_breakage_names_each_failing_rule_and_carries_the_rejected_rows(spark: SparkSession) -> None:
    with pytest.raises(SystemicBreakageError) as raised:
        apply_suite(spark.createDataFrame(ROWS, COLUMNS), suite(max_quarantine_fraction=0.5))
    error = raised.value
    assert str(error) == (
        "suite events: 3 of 5 rows quarantined, over the limit of 50%: systemic breakage, not bad rows; "
        "failing rules: id_not_null: 1 of 5 rows; amount_in_range: 2 of 5 rows; "
        "kind_accepted_values: 1 of 5 rows"
    )
    assert isinstance(error, DataError)
    assert error.failures == {
        "id_not_null": 1,
        "amount_in_range": 2,
        "email_matches": 1,
        "kind_accepted_values": 1,
    }
    assert error.rejected is not None
    assert sorted((r.id, tuple(r[FAILED_RULES])) for r in error.rejected.collect() if r.id) == [
        ("b", ("amount_in_range", "email_matches")),
        ("d", ("amount_in_range", "kind_accepted_values")),
    ]


def test_thousands_are_grouped_in_the_systemic_breakage_message(spark: SparkSession) -> None:
    rows = spark.range(1000).selectExpr("CAST(NULL AS STRING) AS id")
    strict = ExpectationSuite(name="big", expectations=[not_null("id")], max_quarantine_fraction=0.5)
    with pytest.raises(SystemicBreakageError, match="id_not_null: 1,000 of 1,000 rows"):
        apply_suite(rows, strict)


def test_suite_refuses_duplicate_rule_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        ExpectationSuite(name="dup", expectations=[not_null("id"), not_null("id")])
