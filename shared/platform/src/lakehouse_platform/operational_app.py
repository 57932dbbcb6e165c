"""A demo operational app on the local stack's PostgreSQL: the source system whose changes
Debezium captures. Customers (country, signup date, plan) and their orders (amount, status),
with inserts, updates and deletes happening as in a live app.

The tables keep full before-images in the log (``REPLICA IDENTITY FULL``), so an update's and a
delete's change events carry the whole old row.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from collections.abc import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id          bigint PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    country     text NOT NULL,
    signup_date date NOT NULL,
    plan        text NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    amount      numeric(12, 2) NOT NULL,
    status      text NOT NULL,
    updated_at  timestamptz NOT NULL
);
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE orders REPLICA IDENTITY FULL;
"""

TABLES = ("public.customers", "public.orders")
COUNTRIES = ("FR", "DE", "ES", "IT", "GB", "US", "BR", "JP")
PLANS = ("free", "starter", "pro", "team")
ORDER_STATUSES = ("created", "paid", "shipped", "delivered", "refunded")


@dataclass
class ChangeCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


class OperationalApp:
    """Writes to the operational database at ``dsn``; one transaction per call."""

    def __init__(self, dsn: str, *, seed: int = 7) -> None:
        self.dsn = dsn
        self.rng = random.Random(seed)

    def create_schema(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(SCHEMA)

    def seed(self, *, customers: int, orders_per_customer: int = 2) -> ChangeCounts:
        """Insert ``customers`` new customers, each with up to ``orders_per_customer`` orders."""
        counts = ChangeCounts()
        with psycopg.connect(self.dsn) as connection:
            next_customer = self._next_id(connection, "customers")
            next_order = self._next_id(connection, "orders")
            for customer_id in range(next_customer, next_customer + customers):
                self._insert_customer(connection, customer_id)
                counts.inserted += 1
                for _ in range(self.rng.randint(0, orders_per_customer)):
                    self._insert_order(connection, next_order, customer_id)
                    next_order += 1
                    counts.inserted += 1
        return counts

    def churn(self, *, changes: int) -> ChangeCounts:
        """``changes`` random changes: new customers and orders, plan and status updates,
        deleted orders and customers (a customer's orders go with them)."""
        counts = ChangeCounts()
        with psycopg.connect(self.dsn) as connection:
            for _ in range(changes):
                kind = self.rng.choices(
                    ("customer", "order", "plan", "status", "delete_order", "delete_customer"),
                    weights=(2, 3, 2, 4, 1, 1),
                )[0]
                customer = self._pick(connection, "customers")
                order = self._pick(connection, "orders")
                if kind == "customer" or customer is None:
                    self._insert_customer(connection, self._next_id(connection, "customers"))
                    counts.inserted += 1
                elif kind == "order" or order is None:
                    self._insert_order(connection, self._next_id(connection, "orders"), customer)
                    counts.inserted += 1
                elif kind == "plan":
                    connection.execute(
                        "UPDATE customers SET plan = %s WHERE id = %s", (self.rng.choice(PLANS), customer)
                    )
                    counts.updated += 1
                elif kind == "status":
                    connection.execute(
                        "UPDATE orders SET status = %s, updated_at = %s WHERE id = %s",
                        (self.rng.choice(ORDER_STATUSES), datetime.now(tz=UTC), order),
                    )
                    counts.updated += 1
                elif kind == "delete_order":
                    connection.execute("DELETE FROM orders WHERE id = %s", (order,))
                    counts.deleted += 1
                else:
                    connection.execute("DELETE FROM customers WHERE id = %s", (customer,))
                    counts.deleted += 1
        return counts

    def rows(self, table: str) -> Iterator[tuple[object, ...]]:
        """Every row of ``table`` (customers or orders), by primary key."""
        if table not in ("customers", "orders"):
            raise ValueError(f"unknown table {table!r}: customers or orders")
        with psycopg.connect(self.dsn) as connection:
            yield from connection.execute(f"SELECT * FROM {table} ORDER BY id")

    def _insert_customer(self, connection: psycopg.Connection[tuple[object, ...]], customer_id: int) -> None:
        signup = date(2024, 1, 1) + timedelta(days=self.rng.randrange(700))
        connection.execute(
            "INSERT INTO customers (id, email, country, signup_date, plan) VALUES (%s, %s, %s, %s, %s)",
            (
                customer_id,
                f"customer{customer_id}@example.com",
                self.rng.choice(COUNTRIES),
                signup,
                self.rng.choice(PLANS),
            ),
        )

    def _insert_order(
        self, connection: psycopg.Connection[tuple[object, ...]], order_id: int, customer_id: int
    ) -> None:
        connection.execute(
            "INSERT INTO orders (id, customer_id, amount, status, updated_at) VALUES (%s, %s, %s, %s, %s)",
            (order_id, customer_id, round(self.rng.uniform(5, 500), 2), "created", datetime.now(tz=UTC)),
        )

    @staticmethod
    def _next_id(connection: psycopg.Connection[tuple[object, ...]], table: str) -> int:
        row = connection.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()
        return int(str(row[0])) if row else 1

    def _pick(self, connection: psycopg.Connection[tuple[object, ...]], table: str) -> int | None:
        count_row = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
        count = int(str(count_row[0])) if count_row else 0
        if count == 0:
            return None
        row = connection.execute(
            f"SELECT id FROM {table} ORDER BY id OFFSET %s LIMIT 1",
            (self.rng.randrange(count),),
        ).fetchone()
        return int(str(row[0])) if row else None
