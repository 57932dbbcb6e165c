"""The operational sources as transforms: subject keys of captured customers and orders, the
payments' newest versions, and each person's customer attributes, order value and payments
(docs/METRICS.md). A person reaches a customer through the subject key: the customer's
``user_id`` is the tracking user id, so its HMAC is the subject key of the same person's events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from lakehouse_core.privacy import SUBJECT_KEY_COLUMN, subject_key
from user_segmentation.contracts import Payment

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from user_segmentation.config import PaymentsConfig

#: The columns :func:`person_operational` adds to the person features.
OPERATIONAL_FEATURES = ("country", "plan", "signup_date", "order_value", "payments_90d")


def with_customer_subject_key(key: bytes) -> Callable[[DataFrame], DataFrame]:
    """Captured customer changes → the same with ``subject_key``, the HMAC of ``user_id`` with
    the platform ``key`` (null when the row has no user id)."""

    def derive(changes: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        user_id = F.col("user_id") if "user_id" in changes.columns else F.lit(None).cast("string")
        return changes.withColumn(SUBJECT_KEY_COLUMN, subject_key(user_id, key))

    return derive


def with_order_subject_key(customers_history: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Captured order changes → the same with their customer's ``subject_key``, from every
    captured change of the customers (a deleted customer's orders keep theirs); null when the
    customer's changes were not captured."""

    def derive(changes: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        keys = (
            customers_history.where(F.col(SUBJECT_KEY_COLUMN).isNotNull())
            .groupBy(F.col("id").alias("_customer"))
            .agg(F.max(SUBJECT_KEY_COLUMN).alias(SUBJECT_KEY_COLUMN))
        )
        joined = changes.join(keys, changes["customer_id"] == keys["_customer"], "left")
        return joined.drop("_customer")

    return derive


def json_path(dotted: str) -> str:
    """A dotted field path (``customer.id``) as a JSON path (``$.customer.id``)."""
    return "$." + dotted


def refine_payments(bronze: DataFrame, payments: PaymentsConfig) -> DataFrame:
    """The payments API's bronze rows → :class:`Payment`: the newest version (update time) of
    each payment id, its fields read from the payload at the configured paths."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    newest = Window.partitionBy("record_id").orderBy(F.col("updated_at").desc(), F.col("fetched_at").desc())
    latest = (
        bronze.where(F.col("source") == payments.source.name)
        .withColumn("_rank", F.row_number().over(newest))
        .where("_rank = 1")
    )
    subject_field = payments.source.subject_field
    status = F.get_json_object("payload", json_path(payments.status_field))
    refined = latest.select(
        F.col("record_id").alias("payment_id"),
        "updated_at",
        (F.get_json_object("payload", json_path(subject_field)) if subject_field else F.lit(None))
        .cast("string")
        .alias("user_id"),
        SUBJECT_KEY_COLUMN,
        F.get_json_object("payload", json_path(payments.amount_field)).cast("double").alias("amount"),
        F.get_json_object("payload", json_path(payments.currency_field)).alias("currency"),
        status.alias("status"),
        F.coalesce(status.isin(list(payments.succeeded_statuses)), F.lit(False)).alias("paid"),
        F.to_date("updated_at").alias("payment_date"),
    )
    return conform(refined, Payment)


def person_operational(
    nodes: DataFrame,
    customers: DataFrame,
    orders: DataFrame,
    payments: DataFrame,
    *,
    as_of: date,
    paid_order_statuses: Sequence[str],
) -> DataFrame:
    """Each person with a customer or a payment → ``person_id`` and :data:`OPERATIONAL_FEATURES`.

    The person's subject keys are those of their subject-key nodes in ``nodes``. Of several
    customers of one person, country, plan and signup date are the most recently signed-up
    one's; ``order_value`` sums the paid orders (by ``customer_id``) of all of them (0 for a
    customer without any);
    ``payments_90d`` sums the paid payments updated in the 90 days ending ``as_of`` (0 for a
    person whose payments are all older or unpaid), payments after ``as_of`` not counted."""
    from pyspark.sql import functions as F

    keys = (
        nodes.where(F.col(SUBJECT_KEY_COLUMN).isNotNull()).select(SUBJECT_KEY_COLUMN, "person_id").distinct()
    )
    order_totals = (
        orders.where(F.col("status").isin(list(paid_order_statuses)))
        .groupBy(F.col("customer_id").alias("id"))
        .agg(F.sum("amount").alias("order_value"))
    )
    attributes = F.struct("country", "plan", "signup_date")
    by_customer = (
        customers.select("id", SUBJECT_KEY_COLUMN, "country", "plan", "signup_date")
        .join(keys, SUBJECT_KEY_COLUMN)
        .join(order_totals, "id", "left")
        .groupBy("person_id")
        .agg(
            F.max_by(attributes, F.struct("signup_date", "id")).alias("customer"),
            F.sum(F.coalesce("order_value", F.lit(0.0))).alias("order_value"),
        )
        .select("person_id", "customer.*", "order_value")
    )
    window_start = F.lit(as_of - timedelta(days=89))
    paid_recently = F.col("paid") & (F.col("payment_date") >= window_start)
    by_payer = (
        payments.where(F.col("payment_date") <= F.lit(as_of))
        .join(keys, SUBJECT_KEY_COLUMN)
        .groupBy("person_id")
        .agg(F.coalesce(F.sum(F.when(paid_recently, F.col("amount"))), F.lit(0.0)).alias("payments_90d"))
    )
    return by_customer.join(by_payer, "person_id", "full").select("person_id", *OPERATIONAL_FEATURES)
