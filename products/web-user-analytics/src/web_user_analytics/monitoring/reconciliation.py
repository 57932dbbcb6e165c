"""web-user-analytics' counts across layers (see :mod:`lakehouse_core.reconciliation`)."""

from __future__ import annotations

from lakehouse_core.reconciliation import Reconciliation
from lakehouse_core.reconciliation import reconcile as reconcile_layers
from web_user_analytics.config import WebConfig
from web_user_analytics.storage.tables import BRONZE_EVENTS, QUARANTINE_EVENTS, SILVER_EVENTS, SILVER_SESSIONS


def reconcile(config: WebConfig, *, bootstrap_servers: str, lake_root: str) -> Reconciliation:
    return reconcile_layers(
        topic=config.topics["events"].name,
        bronze=BRONZE_EVENTS,
        silver=SILVER_EVENTS,
        quarantine=QUARANTINE_EVENTS,
        sessions=SILVER_SESSIONS,
        bootstrap_servers=bootstrap_servers,
        lake_root=lake_root,
    )
