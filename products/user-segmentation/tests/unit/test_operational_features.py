"""The operational sources in the person features, on hand-built rows: a person reaches their
customer, orders and payments through the subject key of their user id."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pyspark.sql import SparkSession

from lakehouse_core.privacy import subject_key_of
from lakehouse_core.sources.http_api import HttpApiSource, Pagination
from user_segmentation.config import PaymentsConfig, SegmentDefinition
from user_segmentation.processing.features import person_features
from user_segmentation.processing.operational import (
    person_operational,
    refine_payments,
    with_customer_subject_key,
    with_order_subject_key,
)
from user_segmentation.processing.segments import daily_members
from user_segmentation.storage.tables import CUSTOMERS, ORDERS, PAYMENTS

pytestmark = pytest.mark.unit

KEY = b"test-subject-key"
AS_OF = date(2026, 3, 31)
ANA, BEN = subject_key_of("usr_00000000000a", KEY), subject_key_of("usr_00000000000b", KEY)
NODES = "node_id string, subject_key string, person_id string"
ATTRIBUTED = (
    "node_id string, event_ts timestamp, event_date date, platform string, session_key string, "
    "is_activity boolean, is_order boolean, revenue double, person_id string, person_subject_key string, "
    "funnel_step int"
)


def customer(customer_id: int, subject: str | None, plan: str, signup: date, country: str = "FR") -> dict:  # type: ignore[type-arg]
    return {
        "_op": "r",
        "_deleted": False,
        "_topic": "t",
        "_partition": 0,
        "_offset": customer_id,
        "id": customer_id,
        "country": country,
        "signup_date": signup,
        "plan": plan,
        "subject_key": subject,
    }


def order(order_id: int, customer_id: int, subject: str | None, amount: float, status: str) -> dict:  # type: ignore[type-arg]
    return {
        "_op": "c",
        "_deleted": False,
        "_topic": "t",
        "_partition": 0,
        "_offset": order_id,
        "id": order_id,
        "customer_id": customer_id,
        "amount": amount,
        "status": status,
        "subject_key": subject,
    }


def payment(payment_id: str, subject: str | None, amount: float, day: date, *, paid: bool = True) -> dict:  # type: ignore[type-arg]
    return {
        "payment_id": payment_id,
        "updated_at": datetime(day.year, day.month, day.day, 12),
        "user_id": None,
        "subject_key": subject,
        "amount": amount,
        "currency": "EUR",
        "status": "succeeded" if paid else "failed",
        "paid": paid,
        "payment_date": day,
    }


def test_a_person_gets_their_customer_orders_and_payments_through_the_subject_key(
    spark: SparkSession,
) -> None:
    nodes = spark.createDataFrame(
        [
            ("subject:a", ANA, "p_ana"),
            ("web:a", None, "p_ana"),
            ("subject:b", BEN, "p_ben"),
            ("web:c", None, "p_cat"),
        ],
        NODES,
    )
    customers = spark.createDataFrame(
        [
            customer(1, ANA, "free", date(2024, 1, 5), "DE"),
            customer(2, ANA, "pro", date(2025, 6, 1), "FR"),
            customer(3, "someone-else", "team", date(2025, 1, 1)),
        ],
        CUSTOMERS.schema,
    )
    orders = spark.createDataFrame(
        [
            order(10, 1, ANA, 20.0, "paid"),
            order(11, 2, ANA, 5.5, "delivered"),
            order(12, 2, ANA, 100.0, "refunded"),
            order(13, 3, "someone-else", 7.0, "paid"),
        ],
        ORDERS.schema,
    )
    payments = spark.createDataFrame(
        [
            payment("pay_1", BEN, 30.0, date(2026, 3, 30)),
            payment("pay_2", BEN, 12.0, date(2026, 1, 1)),
            payment("pay_3", BEN, 99.0, date(2026, 3, 29), paid=False),
            payment("pay_4", BEN, 50.0, date(2025, 12, 1)),
            payment("pay_5", BEN, 70.0, date(2026, 4, 1)),
        ],
        PAYMENTS.schema,
    )

    rows = person_operational(
        nodes, customers, orders, payments, as_of=AS_OF, paid_order_statuses=["paid", "shipped", "delivered"]
    ).collect()

    assert {r["person_id"]: r.asDict() for r in rows} == {
        "p_ana": {
            "person_id": "p_ana",
            "country": "FR",
            "plan": "pro",
            "signup_date": date(2025, 6, 1),
            "order_value": 25.5,
            "payments_90d": None,
        },
        "p_ben": {
            "person_id": "p_ben",
            "country": None,
            "plan": None,
            "signup_date": None,
            "order_value": None,
            "payments_90d": 42.0,
        },
    }


def test_people_without_a_customer_keep_nulls_and_plan_is_a_segment_input(spark: SparkSession) -> None:
    ts = datetime(2026, 3, 10, 9)
    events = spark.createDataFrame(
        [
            ("n1", ts, ts.date(), "web", "s1", True, False, None, "p_ana", ANA, 0),
            ("n2", ts, ts.date(), "web", "s2", True, False, None, "p_cat", None, 0),
        ],
        ATTRIBUTED,
    )
    operational = spark.createDataFrame(
        [("p_ana", "FR", "pro", date(2025, 6, 1), 25.5, None)],
        "person_id string, country string, plan string, signup_date date, order_value double, "
        "payments_90d double",
    )

    features = person_features(events, as_of=AS_OF, operational=operational)
    rows = {r["person_id"]: r for r in features.collect()}
    members = daily_members(
        features,
        {"pro_at_risk": SegmentDefinition(predicate="plan = 'pro' and recency_days > 14")},
    ).collect()

    assert (rows["p_ana"]["plan"], rows["p_ana"]["country"], rows["p_ana"]["order_value"]) == (
        "pro",
        "FR",
        25.5,
    )
    assert (rows["p_cat"]["plan"], rows["p_cat"]["order_value"], rows["p_cat"]["payments_90d"]) == (
        None,
        None,
        None,
    )
    assert [(m["segment"], m["person_id"]) for m in members] == [("pro_at_risk", "p_ana")]


def test_captured_customers_and_their_orders_carry_the_subject_key_of_the_user_id(
    spark: SparkSession,
) -> None:
    changes = spark.createDataFrame(
        [(1, "usr_00000000000a", "c"), (2, None, "c"), (1, "usr_00000000000a", "u")],
        "id bigint, user_id string, _op string",
    )
    history = with_customer_subject_key(KEY)(changes)
    orders = spark.createDataFrame([(10, 1), (11, 2), (12, 9)], "id bigint, customer_id bigint")

    keyed = {r["id"]: r["subject_key"] for r in with_order_subject_key(history)(orders).collect()}

    assert {(r["id"], r["subject_key"]) for r in history.collect()} == {(1, ANA), (2, None)}
    assert keyed == {10: ANA, 11: None, 12: None}


def test_payments_keep_the_newest_version_of_each_payment(spark: SparkSession) -> None:
    config = PaymentsConfig(
        enabled=True,
        source=HttpApiSource(
            name="payments",
            base_url="http://x",
            path="/v1/payments",
            pagination=Pagination.CURSOR,
            subject_field="customer.id",
        ),
    )

    def bronze(record_id: str, updated: datetime, status: str, amount: int) -> tuple:  # type: ignore[type-arg]
        payload = (
            f'{{"id": "{record_id}", "customer": {{"id": "usr_00000000000b"}}, "amount": {amount}, '
            f'"currency": "EUR", "status": "{status}"}}'
        )
        return ("payments", record_id, updated, payload, "http://x", updated, updated.date(), BEN)

    rows = spark.createDataFrame(
        [
            bronze("pay_1", datetime(2026, 3, 1, 10, tzinfo=UTC), "pending", 10),
            bronze("pay_1", datetime(2026, 3, 2, 10, tzinfo=UTC), "succeeded", 12),
            bronze("pay_2", datetime(2026, 3, 1, 11, tzinfo=UTC), "failed", 5),
        ],
        "source string, record_id string, updated_at timestamp, payload string, request_url string, "
        "fetched_at timestamp, ingest_date date, subject_key string",
    )

    refined = {r["payment_id"]: r.asDict() for r in refine_payments(rows, config).collect()}

    assert refined["pay_1"] == {
        "payment_id": "pay_1",
        "updated_at": datetime(2026, 3, 2, 10),
        "user_id": "usr_00000000000b",
        "subject_key": BEN,
        "amount": 12.0,
        "currency": "EUR",
        "status": "succeeded",
        "paid": True,
        "payment_date": date(2026, 3, 2),
    }
    assert (refined["pay_2"]["paid"], len(refined)) == (False, 2)
