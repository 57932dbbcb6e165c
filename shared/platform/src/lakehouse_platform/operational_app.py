"""A demo operational app on the local stack's PostgreSQL: the source system whose changes
Debezium captures. Customers (country, signup date, plan) and their orders (amount, status),
with inserts, updates and deletes happening as in a live app.

A customer is a person the tracking products know too: ``customers.user_id`` is the user id the
web and mobile apps send as ``userId`` (``usr_`` and 12 hex digits), so the platform's subject
key of a customer (HMAC of that id) is the subject key of the same person's events. The app
takes the user ids of the customers it inserts from :meth:`OperationalApp.seed`'s ``user_ids``
(e.g. the ids of generated tracking traffic); without them it draws ids of the same form from
its seeded random generator.

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
    from collections.abc import Iterator, Sequence

SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id          bigint PRIMARY KEY,
    email       text NOT NULL UNIQUE,
    country     text NOT NULL,
    signup_date date NOT NULL,
    plan        text NOT NULL,
    user_id     text UNIQUE
);
CREATE TABLE IF NOT EXISTS orders (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    amount      numeric(12, 2) NOT NULL,
    status      text NOT NULL,
    updated_at  timestamptz NOT NULL
);
ALTER TABLE customers ADD COLUMN IF NOT EXISTS user_id text UNIQUE;
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

    def seed(
        self, *, customers: int, orders_per_customer: int = 2, user_ids: Sequence[str] = ()
    ) -> ChangeCounts:
        """Insert ``customers`` new customers, each with up to ``orders_per_customer`` orders.
        The first ones take the tracking user ids ``user_ids`` in order (a :class:`ValueError`
        when there are more ids than customers); the others get drawn ones."""
        if len(user_ids) > customers:
            raise ValueError(f"{len(user_ids)} user ids for {customers} customers")
        counts = ChangeCounts()
        with psycopg.connect(self.dsn) as connection:
            next_customer = self._next_id(connection, "customers")
            next_order = self._next_id(connection, "orders")
            given = iter(user_ids)
            for customer_id in range(next_customer, next_customer + customers):
                self._insert_customer(connection, customer_id, next(given, None))
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

    def rows(self, table: str, *, with_user_id: bool = False) -> Iterator[tuple[object, ...]]:
        """Every row of ``table`` (customers or orders), by primary key, with its columns in
        table order; a customer's ``user_id`` only when ``with_user_id`` (the other columns are
        the app's own data, the user id the tracking products' id of the person)."""
        if table not in ("customers", "orders"):
            raise ValueError(f"unknown table {table!r}: customers or orders")
        with psycopg.connect(self.dsn) as connection:
            found = connection.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            columns = [str(c[0]) for c in found if with_user_id or c[0] != "user_id"]
            listed = ", ".join(f'"{c}"' for c in columns)
            yield from connection.execute(f"SELECT {listed} FROM {table} ORDER BY id")

    def user_ids(self) -> dict[int, str | None]:
        """Customer id → its tracking user id."""
        with psycopg.connect(self.dsn) as connection:
            rows = connection.execute("SELECT id, user_id FROM customers ORDER BY id").fetchall()
        return {int(str(r[0])): None if r[1] is None else str(r[1]) for r in rows}

    def _insert_customer(
        self, connection: psycopg.Connection[tuple[object, ...]], customer_id: int, user_id: str | None = None
    ) -> None:
        signup = date(2024, 1, 1) + timedelta(days=self.rng.randrange(700))
        country, plan = self.rng.choice(COUNTRIES), self.rng.choice(PLANS)
        drawn = f"usr_{self.rng.getrandbits(48):012x}"
        connection.execute(
            "INSERT INTO customers (id, email, country, signup_date, plan, user_id) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (customer_id, f"customer{customer_id}@example.com", country, signup, plan, user_id or drawn),
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
