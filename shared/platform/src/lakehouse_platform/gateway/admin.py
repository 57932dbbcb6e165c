"""Key administration, the same for ``lakehouse admin`` and the gateway's ``/admin`` routes:
every change is one ``key_management`` record on ``platform.audit.v1`` (through the spooled
publisher of :mod:`lakehouse_core.serving.audit`), naming the key by its id, never its secret."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from lakehouse_core.platform_topics import AuditOutcome, AuditRecord
from lakehouse_core.serving.audit import AuditPublish, SpooledAudit
from lakehouse_core.settings import LakehouseSettings
from lakehouse_platform.gateway.config import SERVICE, GatewayConfig
from lakehouse_platform.gateway.keys import IssuedKey, KeyRecord, KeyStore, KeyStoreError, Quota


def audit_publisher(settings: LakehouseSettings) -> SpooledAudit:
    """The audit Kafka when one is configured, else the platform's: a key change is always audited."""
    servers = settings.audit_bootstrap_servers or settings.kafka_bootstrap_servers
    return SpooledAudit(settings.model_copy(update={"audit_bootstrap_servers": servers}), key=SERVICE)


class KeyAdmin:
    """Changes to the keys of ``store``; ``actor`` of each change is the fingerprint of the key
    that asked (an admin's, on ``/admin``), None on the command line."""

    def __init__(self, store: KeyStore, config: GatewayConfig, publish: AuditPublish) -> None:
        self.store = store
        self.config = config
        self.publish = publish

    @property
    def roles(self) -> Mapping[str, str]:
        return self.config.roles

    def _audit(self, record: KeyRecord, change: str, *, actor: str | None, outcome: AuditOutcome) -> None:
        self.publish(
            AuditRecord(
                service=SERVICE,
                api_key_id=actor,
                roles=sorted(record.roles),
                action="key_management",
                resource_type="api_key",
                resource=record.key_id,
                outcome=outcome,
                detail=f"{change} key {record.key_id} of {record.owner} "
                f"(roles {', '.join(sorted(record.roles))}; expires {record.expires_at.isoformat()})",
            )
        )

    def create(
        self,
        *,
        owner: str,
        roles: Iterable[str],
        valid_days: int | None = None,
        per_minute: int | None = None,
        per_day: int | None = None,
        actor: str | None = None,
    ) -> IssuedKey:
        wanted = sorted(set(roles))
        unknown = [r for r in wanted if r not in self.roles]
        if not wanted or unknown:
            raise KeyStoreError(
                (f"unknown roles {', '.join(unknown)}" if unknown else "a key needs at least one role")
                + f"; the roles are {', '.join(self.roles)}"
            )
        issued = self.store.create(
            owner=owner,
            roles=wanted,
            valid_for=timedelta(days=valid_days or self.config.key_validity_days),
            quota=Quota(
                per_minute=per_minute or self.config.requests_per_minute,
                per_day=per_day or self.config.requests_per_day,
            ),
        )
        self._audit(issued.record, "created", actor=actor, outcome="succeeded")
        return issued

    def revoke(self, key_id: str, *, actor: str | None = None) -> KeyRecord:
        record = self.store.revoke(key_id)
        self._audit(record, "revoked", actor=actor, outcome="succeeded")
        return record

    def rotate(self, key_id: str, *, actor: str | None = None) -> IssuedKey:
        old, issued = self.store.rotate(key_id)
        self._audit(old, f"rotated (replaced by {issued.record.key_id})", actor=actor, outcome="succeeded")
        self._audit(issued.record, f"created (replacing {old.key_id})", actor=actor, outcome="succeeded")
        return issued
