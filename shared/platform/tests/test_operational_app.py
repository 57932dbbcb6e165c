"""The demo operational app writes inserts, updates and deletes into a real PostgreSQL."""

import uuid

import pytest

from lakehouse_platform.operational_app import OperationalApp
from lakehouse_platform.stack.postgres import LocalPostgres

pytestmark = pytest.mark.integration


def _app(server: LocalPostgres, *, seed: int) -> OperationalApp:
    name = f"app_{uuid.uuid4().hex[:8]}"
    server.execute(f'CREATE DATABASE "{name}"', database="postgres")
    c = server.config
    app = OperationalApp(f"postgresql://{c.user}@{c.host}:{c.port}/{name}", seed=seed)
    app.create_schema()
    return app


def test_seed_and_churn_write_every_kind_of_change_reproducibly(postgres_server: LocalPostgres) -> None:
    first, second = _app(postgres_server, seed=3), _app(postgres_server, seed=3)
    for app in (first, second):
        seeded = app.seed(customers=20)
        churned = app.churn(changes=60)
    assert seeded.inserted >= 20
    assert churned.inserted > 0
    assert churned.updated > 0
    assert churned.deleted > 0

    customers = list(first.rows("customers"))
    orders = list(first.rows("orders"))
    assert customers == list(second.rows("customers"))
    assert [o[:4] for o in orders] == [o[:4] for o in second.rows("orders")]
    assert {o[1] for o in orders} <= {c[0] for c in customers}
    with pytest.raises(ValueError, match="unknown table"):
        list(first.rows("pg_authid"))
