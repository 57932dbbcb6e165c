"""Apply an expectation suite to a DataFrame: split valid rows from quarantined ones and count
what each rule caught, in one aggregation pass.

The split itself is pure (:func:`annotate`, :func:`valid_rows`, :func:`quarantined_rows`);
:func:`apply_suite` adds the counting action and the ``fail`` decisions. Cache the input first
when it is expensive to recompute: the counts and each output read it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lakehouse_core.errors import QualityError, SystemicBreakageError
from lakehouse_core.quality.expectations import Action, Expectation

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

FAILED_RULES = "_failed_rules"
QUARANTINE_REASON = "_quarantine_reason"


@dataclass(frozen=True, kw_only=True)
class ExpectationSuite:
    """Rules applied together. ``max_quarantine_fraction`` turns a flood of dropped rows
    (systemic breakage, e.g. a producer sending a new format) into a failure."""

    name: str
    expectations: Sequence[Expectation]
    max_quarantine_fraction: float | None = None

    def __post_init__(self) -> None:
        names = [e.name for e in self.expectations]
        if len(names) != len(set(names)):
            raise ValueError(f"suite {self.name}: rule names must be unique, got {names}")

    def with_action(self, action: Action) -> list[Expectation]:
        return [e for e in self.expectations if e.action == action]


@dataclass(frozen=True)
class RuleResult:
    name: str
    action: Action
    failed: int


@dataclass(frozen=True, kw_only=True)
class QualityResult:
    suite: str
    rows_in: int
    rows_passed: int
    rows_quarantined: int
    rules: list[RuleResult]
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_record(self) -> dict[str, Any]:
        """A flat record for run logs and operational metrics."""
        return {
            "suite": self.suite,
            "rows_in": self.rows_in,
            "rows_passed": self.rows_passed,
            "rows_quarantined": self.rows_quarantined,
            "failures": {r.name: r.failed for r in self.rules},
            "checked_at": self.checked_at.isoformat(),
        }


@dataclass(frozen=True)
class QualityOutcome:
    valid: DataFrame
    quarantine: DataFrame
    result: QualityResult


def annotate(df: DataFrame, suite: ExpectationSuite) -> DataFrame:
    """Add ``_failed_rules``: the names of the rules each row failed (empty when none)."""
    from pyspark.sql import functions as F

    if not suite.expectations:
        return df.withColumn(FAILED_RULES, F.array().cast("array<string>"))
    failures = [
        F.when(F.coalesce(F.expr(e.condition), F.lit(False)), F.lit(None)).otherwise(F.lit(e.name))
        for e in suite.expectations
    ]
    return df.withColumn(FAILED_RULES, F.filter(F.array(*failures), lambda name: name.isNotNull()))


def _dropped(suite: ExpectationSuite) -> Any:
    from pyspark.sql import functions as F

    drop_rules = F.array(*[F.lit(e.name) for e in suite.with_action("drop")]).cast("array<string>")
    return F.arrays_overlap(F.col(FAILED_RULES), drop_rules)


def valid_rows(annotated: DataFrame, suite: ExpectationSuite) -> DataFrame:
    """Rows that failed no ``drop`` rule, without the annotation column."""
    if not suite.with_action("drop"):
        return annotated.drop(FAILED_RULES)
    return annotated.filter(~_dropped(suite)).drop(FAILED_RULES)


def quarantined_rows(annotated: DataFrame, suite: ExpectationSuite) -> DataFrame:
    """Rows that failed a ``drop`` rule, with ``_failed_rules`` and a readable reason."""
    from pyspark.sql import functions as F

    if not suite.with_action("drop"):
        return annotated.limit(0).withColumn(QUARANTINE_REASON, F.lit(""))
    return annotated.filter(_dropped(suite)).withColumn(
        QUARANTINE_REASON,
        F.concat(F.lit(f"{suite.name}: failed "), F.array_join(F.col(FAILED_RULES), ", ")),
    )


def apply_suite(df: DataFrame, suite: ExpectationSuite) -> QualityOutcome:
    """Split ``df`` by the suite and count failures; raise :class:`QualityError` when a
    ``fail`` rule caught a row, :class:`SystemicBreakageError` (carrying the quarantined rows)
    when the quarantined share exceeds the suite's limit."""
    from pyspark.sql import functions as F

    annotated = annotate(df, suite)
    aggregates = [F.count(F.lit(1)).alias("rows_in")]
    aggregates += [
        F.sum(F.array_contains(FAILED_RULES, e.name).cast("long")).alias(f"rule_{i}")
        for i, e in enumerate(suite.expectations)
    ]
    if suite.with_action("drop"):
        aggregates.append(F.sum(_dropped(suite).cast("long")).alias("quarantined"))
    counts = annotated.agg(*aggregates).first()
    assert counts is not None
    rows_in = int(counts["rows_in"])
    rules = [
        RuleResult(e.name, e.action, int(counts[f"rule_{i}"] or 0)) for i, e in enumerate(suite.expectations)
    ]
    quarantined = int(counts["quarantined"] or 0) if suite.with_action("drop") else 0
    result = QualityResult(
        suite=suite.name,
        rows_in=rows_in,
        rows_passed=rows_in - quarantined,
        rows_quarantined=quarantined,
        rules=rules,
    )
    outcome = QualityOutcome(
        valid=valid_rows(annotated, suite),
        quarantine=quarantined_rows(annotated, suite),
        result=result,
    )
    _enforce(suite, outcome)
    return outcome


def _counted(rules: Sequence[RuleResult], rows_in: int) -> str:
    return "; ".join(f"{r.name}: {r.failed:,} of {rows_in:,} rows" for r in rules)


def _enforce(suite: ExpectationSuite, outcome: QualityOutcome) -> None:
    """Raise for a violated ``fail`` rule or an over-limit quarantine share; both messages
    name every rule that caught rows, with its count, so the cause is readable at once."""
    result = outcome.result
    failures = {r.name: r.failed for r in result.rules if r.failed}
    broken = [r for r in result.rules if r.action == "fail" and r.failed]
    if broken:
        raise QualityError(
            f"suite {suite.name}: fail rules violated: {_counted(broken, result.rows_in)}",
            failures=failures,
            rows=result.rows_in,
        )
    limit = suite.max_quarantine_fraction
    if limit is not None and result.rows_in and result.rows_quarantined / result.rows_in > limit:
        dropping = [r for r in result.rules if r.action == "drop" and r.failed]
        raise SystemicBreakageError(
            f"suite {suite.name}: {result.rows_quarantined:,} of {result.rows_in:,} rows quarantined, "
            f"over the limit of {limit:.0%}: systemic breakage, not bad rows; failing rules: "
            f"{_counted(dropping, result.rows_in)}",
            failures=failures,
            rows=result.rows_in,
            rejected=outcome.quarantine,
        )
