"""Every table of compliance-auditing, declared once: name, layer, schema, partitioning, and
what the platform's catalog shows (retention, subject columns, upstream tables and topics).

The product's own tables hold subject keys (who was read, who asked to be erased) and say so,
but erasure keeps them (:data:`KEPT_ON_ERASURE`): the trail and the proof are kept under a
legal obligation, and deleting a link would break the chain that makes the trail evidence."""

from __future__ import annotations

from functools import partial

from compliance_auditing import PRODUCT
from compliance_auditing.contracts import (
    AccessesDaily,
    AccessRequestEvent,
    AuditEntry,
    ChainRoot,
    ErasedSubject,
    ErasureCertificate,
    ErasureRequestEvent,
    KeyReadsDaily,
    RetentionRun,
)
from lakehouse_core.ingestion.bronze import bronze_table
from lakehouse_core.ingestion.quarantine import quarantine_table
from lakehouse_core.privacy import SUBJECT_KEY_COLUMN
from lakehouse_core.tables import Layer, Retention, SubjectKind, declare_table

#: Audit records are kept as long as the topic keeps them (400 days).
AUDIT_RETENTION_DAYS = 400
#: Erasure requests and their certificates are the proof of erasure: kept six years.
PROOF_RETENTION_DAYS = 6 * 365

#: Bronze of ``topics.audit`` (``platform.audit.v1``).
BRONZE_AUDIT = bronze_table(PRODUCT, "audit")
QUARANTINE_AUDIT = quarantine_table(PRODUCT, "audit")

_table = partial(declare_table, PRODUCT)
_SUBJECT = {SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY}

SILVER_AUDIT_TRAIL = _table(
    "audit_trail",
    Layer.SILVER,
    AuditEntry,
    "day",
    upstream=(BRONZE_AUDIT.qualified_name,),
    retention=Retention(AUDIT_RETENTION_DAYS, "day"),
    subject_columns=_SUBJECT,
)
SILVER_CHAIN_ROOTS = _table(
    "audit_chain_roots",
    Layer.SILVER,
    ChainRoot,
    None,
    upstream=(SILVER_AUDIT_TRAIL.qualified_name,),
    retention=Retention(AUDIT_RETENTION_DAYS, "day"),
)
GOLD_ACCESSES_DAILY = _table(
    "accesses_daily", Layer.GOLD, AccessesDaily, "day", upstream=(SILVER_AUDIT_TRAIL.qualified_name,)
)
SILVER_ERASURE_REQUESTS = _table(
    "erasure_requests",
    Layer.SILVER,
    ErasureRequestEvent,
    "request_date",
    upstream=(),
    retention=Retention(PROOF_RETENTION_DAYS, "request_date"),
    subject_columns=_SUBJECT,
)
"""Written by the API (a request) and by the erasure task (its steps), append-only."""
GOLD_ERASURE_CERTIFICATES = _table(
    "erasure_certificates",
    Layer.GOLD,
    ErasureCertificate,
    "issue_date",
    upstream=(SILVER_ERASURE_REQUESTS.qualified_name,),
    retention=Retention(PROOF_RETENTION_DAYS, "issue_date"),
    subject_columns=_SUBJECT,
)

SILVER_ERASED_SUBJECTS = _table(
    "erased_subjects",
    Layer.SILVER,
    ErasedSubject,
    "completed_date",
    upstream=(SILVER_ERASURE_REQUESTS.qualified_name,),
    retention=Retention(PROOF_RETENTION_DAYS, "completed_date"),
    subject_columns=_SUBJECT,
)
"""Written by the erasure task when a request completes; read when erasures are applied again
to restored tables."""

SILVER_ACCESS_REQUESTS = _table(
    "access_requests",
    Layer.SILVER,
    AccessRequestEvent,
    "request_date",
    upstream=(),
    retention=Retention(PROOF_RETENTION_DAYS, "request_date"),
    subject_columns=_SUBJECT,
)
"""Written by the API (a request) and by the access task (its steps), append-only."""

GOLD_KEY_READS_DAILY = _table(
    "key_reads_daily", Layer.GOLD, KeyReadsDaily, "day", upstream=(SILVER_AUDIT_TRAIL.qualified_name,)
)

GOLD_RETENTION_RUNS = _table(
    "retention_runs",
    Layer.GOLD,
    RetentionRun,
    "run_date",
    upstream=(),
    retention=Retention(PROOF_RETENTION_DAYS, "run_date"),
)
"""Written by the retention task (delta-rs), one row per table and run: the proof that expired
rows were deleted."""

TABLES = (
    BRONZE_AUDIT,
    QUARANTINE_AUDIT,
    SILVER_AUDIT_TRAIL,
    SILVER_CHAIN_ROOTS,
    GOLD_ACCESSES_DAILY,
    GOLD_KEY_READS_DAILY,
    SILVER_ERASURE_REQUESTS,
    GOLD_ERASURE_CERTIFICATES,
    SILVER_ERASED_SUBJECTS,
    SILVER_ACCESS_REQUESTS,
    GOLD_RETENTION_RUNS,
)
#: This product's tables, which erasure checks but does not delete from (module docstring).
KEPT_ON_ERASURE = frozenset(t.qualified_name for t in TABLES)
