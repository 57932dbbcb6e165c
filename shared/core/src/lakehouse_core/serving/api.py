"""The shell of an API that serves a product's tables, before the product adds its routers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

from fastapi import FastAPI

from lakehouse_core.config import require_outside_dev
from lakehouse_core.health import delta_table_check
from lakehouse_core.service import create_service_app
from lakehouse_core.serving.audit import install_read_audit
from lakehouse_core.serving.auth import install_api_keys
from lakehouse_core.serving.cache import QueryCache
from lakehouse_core.serving.responses import install_kept_responses
from lakehouse_core.serving.tables import ServedTable, install_table_errors
from lakehouse_core.tables import TableSpec

_keys_from_host: ContextVar[bool] = ContextVar("keys_from_host", default=False)


@contextmanager
def keys_installed_by_host() -> Iterator[None]:
    """Apps built inside the block get their API keys from the process that mounts them (the
    gateway installs its key store on each), so a product without keys of its own may start
    in ``staging`` and ``prod`` there."""
    token = _keys_from_host.set(True)
    try:
        yield
    finally:
        _keys_from_host.reset(token)


def served_table(spec: TableSpec, lake_root: str, cache: QueryCache) -> ServedTable:
    """``spec``'s table under ``lake_root``, named by its qualified name in messages."""
    return ServedTable(spec.qualified_name, spec.location(lake_root), cache)


def create_table_api(
    *,
    service: str,
    version: str,
    description: str,
    served: Sequence[TableSpec],
    lake_root: str,
    api_keys: Mapping[str, Iterable[str]],
    cache: QueryCache,
    api_keys_variable: str = "",
    keep_responses: bool = False,
) -> FastAPI:
    """:func:`~lakehouse_core.service.create_service_app` whose ``/ready`` checks that every table
    of ``served`` can be opened, with ``api_keys`` installed for
    :func:`~lakehouse_core.serving.auth.require_role`, 503 for tables not built yet, and ``cache``
    on ``app.state.query_cache``, and a ``read`` audit record per request that reads data when
    ``LAKEHOUSE_AUDIT_BOOTSTRAP_SERVERS`` is set (:mod:`lakehouse_core.serving.audit`).

    ``keep_responses`` keeps whole responses per table version in ``cache``
    (:mod:`lakehouse_core.serving.responses`): for APIs whose answers depend on nothing but their
    tables, the request and the day.

    Without API keys the routes declared ``open_when_no_keys`` are open to anyone, so in
    ``staging`` and ``prod`` the service refuses to start (:class:`~lakehouse_core.errors.ConfigError`
    naming ``api_keys_variable``, by default ``<FIRST WORD OF SERVICE>_API_KEYS``, e.g.
    ``WEB_API_KEYS``), unless built within :func:`keys_installed_by_host`; in ``dev`` it logs a
    warning."""
    variable = api_keys_variable or f"{service.split('-', maxsplit=1)[0].upper()}_API_KEYS"
    require_outside_dev(
        bool(api_keys) or _keys_from_host.get(),
        what=f"{service}: no API keys are configured, so its analytics routes are open to anyone",
        variable=f"{variable} (a JSON object of key to roles)",
    )
    readiness = [delta_table_check(spec.qualified_name, spec.location(lake_root)) for spec in served]
    app = create_service_app(service=service, version=version, checks=readiness, description=description)
    app.state.query_cache = cache
    install_api_keys(app, api_keys)
    install_table_errors(app)
    install_read_audit(app, service=service)
    if keep_responses:
        install_kept_responses(app, cache)
    return app
