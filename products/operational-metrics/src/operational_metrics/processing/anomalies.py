"""Silver run attempts → anomalies (pure): each succeeded attempt's rows written, duration,
quarantine rate and cost, compared with a seasonal, robust baseline of the same asset's earlier
runs (same weekday and hour over ``training_weeks``, median and MAD), runs inside an incident
window left out of the baseline. docs/METRICS.md ("Anomalies") gives the method and why."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from operational_metrics.config import AnomalyConfig, CostRates
from operational_metrics.contracts import Anomaly
from operational_metrics.processing.cost import priced_attempts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: MAD x this estimates the standard deviation of normally distributed values.
MAD_TO_SIGMA = 1.4826
#: The spread never falls below this, so a value equal to a constant baseline scores 0.
MIN_SPREAD = 1e-9
RUN_KEYS = ("record_id", "product", "asset", "run_id", "started_at", "run_date")


def observations(attempts: DataFrame, version_bytes: DataFrame, rates: CostRates) -> DataFrame:
    """One row per (succeeded attempt, metric) with its ``value``; a quarantine rate only where
    the attempt read rows."""
    from pyspark.sql import functions as F

    succeeded = attempts.filter(F.col("status") == "succeeded")
    priced = priced_attempts(succeeded, version_bytes, rates)
    rate = F.when(F.col("rows_read") > 0, F.col("rows_quarantined") / F.col("rows_read"))
    metrics = F.array(
        *(
            F.struct(F.lit(name).alias("metric"), value.cast("double").alias("value"))
            for name, value in (
                ("rows_written", F.col("rows_written")),
                ("duration_seconds", F.col("duration_seconds")),
                ("quarantine_rate", rate),
                ("cost", F.col("cost")),
            )
        )
    )
    return (
        priced.select(*RUN_KEYS, F.explode(metrics).alias("m"))
        .select(*RUN_KEYS, "m.metric", "m.value")
        .filter(F.col("value").isNotNull())
        .withColumn("weekday", F.dayofweek("started_at"))
        .withColumn("hour", F.hour("started_at"))
    )


def outside_incidents(observed: DataFrame, incidents: DataFrame) -> DataFrame:
    """The rows of ``observed`` whose run did not start inside an incident window of its product:
    from an incident's ``started_at`` to its ``closed_at`` (open ones: to now), for incidents of
    the same asset or of no asset (an SLA breach of one of the product's tables)."""
    from pyspark.sql import functions as F

    o, i = observed.alias("o"), incidents.alias("i")
    inside = (
        (F.col("o.product") == F.col("i.product"))
        & (F.col("i.asset").isNull() | (F.col("i.asset") == F.col("o.asset")))
        & (F.col("o.started_at") >= F.col("i.started_at"))
        & (F.col("i.closed_at").isNull() | (F.col("o.started_at") <= F.col("i.closed_at")))
    )
    return o.join(i, inside, "left_anti")


def scores(
    attempts: DataFrame,
    incidents: DataFrame,
    version_bytes: DataFrame,
    *,
    days: list[date],
    rates: CostRates,
    config: AnomalyConfig,
) -> DataFrame:
    """Every (succeeded attempt started on one of ``days``, metric) with a baseline of at least
    ``config.min_training_runs`` earlier runs: ``observed``, ``expected`` (median), ``spread``,
    ``low``, ``high``, ``score`` (robust z) and ``training_runs``. ``attempts`` must reach back
    ``config.training_weeks`` before the first day; ``incidents`` has (product, asset,
    started_at, closed_at)."""
    from pyspark.sql import functions as F

    observed = observations(attempts, version_bytes, rates)
    targets = observed.filter(F.col("run_date").isin(days)).alias("t")
    training = outside_incidents(observed, incidents.select("product", "asset", "started_at", "closed_at"))
    window = F.expr(f"INTERVAL {config.training_weeks * 7} DAYS")
    pairs = targets.join(
        training.alias("r"),
        (F.col("t.product") == F.col("r.product"))
        & (F.col("t.asset") == F.col("r.asset"))
        & (F.col("t.metric") == F.col("r.metric"))
        & (F.col("t.weekday") == F.col("r.weekday"))
        & (F.col("t.hour") == F.col("r.hour"))
        & (F.col("r.started_at") < F.col("t.started_at"))
        & (F.col("r.started_at") >= F.col("t.started_at") - window),
    ).select(
        *(F.col(f"t.{k}").alias(k) for k in RUN_KEYS),
        F.col("t.metric").alias("metric"),
        F.col("t.value").alias("observed"),
        F.col("r.value").alias("past"),
    )
    keys = [*RUN_KEYS, "metric", "observed"]
    medians = pairs.groupBy(*keys).agg(
        F.expr("percentile(past, 0.5)").alias("expected"), F.count(F.lit(1)).alias("training_runs")
    )
    spread = (
        pairs.join(medians, keys)
        .groupBy(*keys, "expected", "training_runs")
        .agg(F.expr("percentile(abs(past - expected), 0.5)").alias("mad"))
        .filter(F.col("training_runs") >= config.min_training_runs)
        .withColumn(
            "spread",
            F.greatest(
                F.col("mad") * MAD_TO_SIGMA,
                F.abs("expected") * config.min_relative_spread,
                F.lit(MIN_SPREAD),
            ),
        )
    )
    margin = F.col("spread") * config.threshold
    return (
        spread.withColumn("score", (F.col("observed") - F.col("expected")) / F.col("spread"))
        .withColumn("low", F.greatest(F.col("expected") - margin, F.lit(0.0)))
        .withColumn("high", F.col("expected") + margin)
        .drop("mad")
    )


def anomalies(
    attempts: DataFrame,
    incidents: DataFrame,
    version_bytes: DataFrame,
    *,
    days: list[date],
    rates: CostRates,
    config: AnomalyConfig,
) -> DataFrame:
    """:class:`Anomaly` rows: the :func:`scores` whose observed value is outside (low, high)."""
    from pyspark.sql import functions as F

    scored = scores(attempts, incidents, version_bytes, days=days, rates=rates, config=config)
    flagged = scored.filter((F.col("observed") < F.col("low")) | (F.col("observed") > F.col("high")))
    direction = F.when(F.col("score") < 0, F.lit("drop")).otherwise(F.lit("spike"))
    return conform(flagged.withColumn("direction", direction), Anomaly)
