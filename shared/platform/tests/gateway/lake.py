"""What the gateway tests know of the gateway served over the small lake of
:mod:`lakehouse_testing.lake` (``conftest.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lakehouse_core.platform_topics import AuditRecord
from lakehouse_core.serving.auth import API_KEY_HEADER
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.catalog import Catalog, ServedProduct
from lakehouse_platform.gateway.keys import KeyStore, Quota

UNLIMITED = Quota()


@dataclass
class Gateway:
    url: str
    store: KeyStore
    catalog: Catalog
    products: list[ServedProduct]
    settings: LakehouseSettings
    audit: list[AuditRecord]
    refusals: list[AuditRecord]
    subjects: list[str]

    def key(self, *roles: str, quota: Quota = UNLIMITED) -> dict[str, str]:
        issued = self.store.create(owner="test", roles=roles, valid_for=timedelta(days=1), quota=quota)
        return {API_KEY_HEADER: issued.secret}
