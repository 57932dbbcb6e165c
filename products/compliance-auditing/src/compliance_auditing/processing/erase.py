"""Executing erasure requests (the I/O edge): resolve the subject through every product's
identity links, search every catalogued table, purge the tables that hold the subject, search
again, and issue the signed certificate (docs/DESIGN.md, "Right to erasure").

A table that held nothing of the subject (current rows, older versions, change feed, log and
files all clean) is left alone, so its time travel is kept. This product's own tables are kept
(:data:`~compliance_auditing.storage.tables.KEPT_ON_ERASURE`) and listed as such.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from compliance_auditing.config import DEVELOPMENT_SIGNING_KEY, SIGNING_KEY_VARIABLE, ComplianceConfig
from compliance_auditing.contracts import ErasedSubject, ErasureCertificate
from compliance_auditing.processing.erasure import Subject, linked_ids, match_condition, subject_frame
from compliance_auditing.processing.proof import (
    canonical,
    scan_files,
    scan_summary,
    scan_table,
    search_pattern,
    sign,
)
from compliance_auditing.processing.purge import purge_subject
from compliance_auditing.processing.raw_copies import TopicsChecked, check_topics, raw_copies_section
from compliance_auditing.storage.exports import drop_exports
from compliance_auditing.storage.requests import (
    ClearIds,
    RequestState,
    advance,
    drop_clear_ids,
    load_clear_ids,
    request_states,
    store_certificate,
    store_erased_subject,
)
from compliance_auditing.storage.tables import KEPT_ON_ERASURE
from lakehouse_core.config import require_outside_dev
from lakehouse_core.delta import table_exists
from lakehouse_core.identity import IDENTITY_LINKS
from lakehouse_core.privacy import platform_subject_key, subject_key_of
from lakehouse_core.tables import Layer

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from lakehouse_platform.catalog import Catalog, CatalogEntry

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]

METHOD = (
    "Every table's files searched first: every _delta_log file (bytes and decoded checkpoints) and "
    "every other file under its location (bytes and decoded Parquet: data files, _change_data, "
    "deletion vectors' files, files no version references) for the subject key, the keyed ids, the "
    "clear ids and their 32-character statistics prefixes, each as a whole token. A table whose "
    "files hold any is purged: rows deleted by MERGE on every subject column (subject_key: equal; "
    "pseudonymous and device ids: the keyed ids of the identity links; user ids: the clear ids; "
    "free text: any of them as a whole token), deletion vectors purged, VACUUM with zero "
    "retention, a checkpoint of the newest version and the older log files deleted; then searched "
    "again: its files, every readable version through Delta and the change data feed over them."
)
CLEAN_REASON = (
    "no file under the location holds the subject: every version whose files exist is covered, "
    "since a version's rows are in its files; left untouched, time travel kept"
)
KEPT_REASON = (
    "kept: the audit trail and the erasure records are kept under a legal obligation (GDPR "
    "art. 17(3)(b) and 5(2)); they hold the subject key only, never a clear id"
)
REAPPLIED_ON_RESTORE = (
    "backups are not rewritten: a table restored from one of them gets this erasure applied again "
    "(compliance-auditing reapply-erasures, and the pipeline's reapply task for restores in place), "
    "from the person's keyed ids kept in silver.erased_subjects"
)
NOT_COVERED = (
    "Kafka topics are not purged: their raw copies expire with each topic's retention, by the "
    "time the kafka entry states; streaming state is not covered by this certificate"
)


def signing_key(config: ComplianceConfig) -> bytes:
    """The certificates' HMAC key; in dev, when unset, :data:`DEVELOPMENT_SIGNING_KEY` with a
    warning; in staging and prod a ConfigError naming the variable."""
    secret = config.certificate_key
    configured = secret is not None and bool(secret.get_secret_value())
    require_outside_dev(
        configured,
        what="no certificate signing key (certificates would be signed with the public development key)",
        variable=SIGNING_KEY_VARIABLE,
    )
    return (
        secret.get_secret_value().encode()
        if secret is not None and configured
        else DEVELOPMENT_SIGNING_KEY.encode()
    )


def resolve_subject(
    spark: SparkSession, catalog: Catalog, subject_key: str, clear: ClearIds | None
) -> tuple[Subject, list[str]]:
    """The subject with every keyed id the catalogued identity links tie to ``subject_key``, and
    the links tables read."""
    found: set[str] = set()
    read: list[str] = []
    for entry in catalog.select(layer=Layer.SILVER):
        if entry.spec.name != IDENTITY_LINKS or not table_exists(spark, entry.location):
            continue
        links = spark.read.format("delta").load(entry.location)
        found |= {r["linked_id"] for r in linked_ids(links, subject_key).collect()}
        read.append(entry.qualified_name)
    return Subject(subject_key, tuple(sorted(found)), clear.all if clear else ()), read


def erase_from_table(
    spark: SparkSession, entry: CatalogEntry, subject: DataFrame, pattern: str
) -> dict[str, Any]:
    """Search one table's files; when they hold the subject, purge it and search again, files
    and every readable version and the change feed; what was done and found."""
    report: dict[str, Any] = {"table": entry.qualified_name, "location": entry.location}
    if entry.qualified_name in KEPT_ON_ERASURE:
        return {**report, "status": "kept", "reason": KEPT_REASON, "found": 0}
    if not table_exists(spark, entry.location):
        return {**report, "status": "absent", "reason": "no Delta table at the location", "found": 0}
    before = scan_files(entry.location, pattern)
    if before.found == 0:
        return {**report, "status": "clean", "reason": CLEAN_REASON, "scan": scan_summary(before), "found": 0}
    condition = match_condition(entry.spec.subject_columns)
    if condition is None:
        reason = "the subject was found but the table declares no subject column to erase by"
        return {
            **report,
            "status": "held",
            "reason": reason,
            "scan": scan_summary(before),
            "found": before.found,
        }
    purge = purge_subject(entry.location, subject, condition)
    after = scan_table(spark, entry.location, subject, condition)
    return {
        **report,
        "status": "erased" if after.found == 0 else "held",
        "found_before": before.found,
        "purge": asdict(purge),
        "scan": scan_summary(after),
        "found": after.found,
    }


def certify(
    spark: SparkSession,
    catalog: Catalog,
    request: RequestState,
    clear: ClearIds | None,
    *,
    key: bytes,
    deadline: timedelta,
    now: Clock,
    topics: TopicsChecked,
    exports_removed: int = 0,
    backups: tuple[str, ...] = (),
) -> tuple[ErasureCertificate, Subject]:
    """Erase the request's subject from every catalogued table and sign what was found; the
    certificate and the subject it erased."""
    subject, links = resolve_subject(spark, catalog, request.subject_key, clear)
    frame = subject_frame(spark, subject).cache()
    pattern = search_pattern(subject)
    tables = [
        erase_from_table(spark, entry, frame, pattern)
        for entry in sorted(catalog.entries.values(), key=lambda e: e.qualified_name)
    ]
    frame.unpersist()
    issued = now()
    found = sum(int(t["found"]) for t in tables)
    document = {
        "request_id": request.request_id,
        "subject_key": request.subject_key,
        "requested_at": request.requested_at.isoformat(),
        "issued_at": issued.isoformat(),
        "deadline": (request.requested_at + deadline).isoformat(),
        "late": issued > request.requested_at + deadline,
        "identity_links_read": links,
        "linked_ids": len(subject.linked_ids),
        "clear_ids": len(subject.clear_ids),
        "clear_ids_available": clear is not None,
        "method": METHOD,
        "not_covered": NOT_COVERED,
        "kafka": raw_copies_section(topics, issued),
        "access_exports_removed": exports_removed,
        "backups": {
            "taken_before": list(backups),
            "covered_by": REAPPLIED_ON_RESTORE,
        },
        "tables": tables,
        "tables_checked": len(tables),
        "found": found,
    }
    text = canonical(document)
    certificate = ErasureCertificate(
        request_id=request.request_id,
        issued_at=issued,
        subject_key=request.subject_key,
        tables_checked=len(tables),
        found=found,
        certificate=text,
        signature=sign(text, key),
        issue_date=issued.date(),
    )
    return certificate, subject


def erased_subject(subject: Subject, request_id: str, at: datetime) -> ErasedSubject:
    """The person in the keyed form kept after the request: clear ids as their subject keys."""
    key = platform_subject_key()
    clear_keys = {k for k in (subject_key_of(c, key) for c in subject.clear_ids) if k}
    return ErasedSubject(
        request_id=request_id,
        subject_key=subject.subject_key,
        linked_ids=list(subject.linked_ids),
        clear_id_keys=sorted(clear_keys),
        completed_at=at,
        completed_date=at.date(),
    )


def backup_ids() -> tuple[str, ...]:
    """The lake's backups at the time (``lakehouse backup list``), oldest first."""
    from pathlib import Path

    from lakehouse_core.settings import LakehouseSettings
    from lakehouse_platform.backup.manifest import list_manifests

    return tuple(sorted(m.backup_id for m in list_manifests(Path(LakehouseSettings().backup_root))))


@dataclass(frozen=True)
class ErasureRun:
    executed: int
    completed: int
    failed: int


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


def execute_erasures(
    spark: SparkSession,
    catalog: Catalog,
    config: ComplianceConfig,
    *,
    lake_root: str,
    request_id: str | None = None,
    now: Clock = utc_now,
    bootstrap_servers: str | None = None,
) -> ErasureRun:
    """Execute the pending (or interrupted) requests, or the one ``request_id`` (also a failed
    one, again). A request whose certificate finds anything is ``failed`` with where; its clear
    ids are kept for the next try. Only a completed request's clear ids are dropped. The
    retention of the catalog's topics is read from the broker at ``bootstrap_servers`` for the
    certificates' Kafka entry."""
    states = request_states(lake_root, request_id)
    if request_id is not None:
        todo = [s for s in states.values() if s.state != "completed"]
    else:
        todo = [s for s in states.values() if s.state in ("pending", "executing")]
    key = signing_key(config)
    deadline = timedelta(hours=config.erasure.deadline_hours)
    completed = failed = 0
    topics = check_topics(catalog.kafka_topics(), bootstrap_servers) if todo else TopicsChecked((), {})
    backups = backup_ids() if todo else ()
    for request in sorted(todo, key=lambda s: s.requested_at):
        advance(lake_root, request, "executing", now())
        try:
            clear = load_clear_ids(lake_root, request.request_id)
            removed = drop_exports(lake_root, request.subject_key)
            certificate, subject = certify(
                spark,
                catalog,
                request,
                clear,
                key=key,
                deadline=deadline,
                now=now,
                topics=topics,
                exports_removed=removed,
                backups=backups,
            )
        except Exception as exc:
            log.exception("erasure request %s failed", request.request_id)
            advance(lake_root, request, "failed", now(), f"{type(exc).__name__}: {exc}"[:2000])
            failed += 1
            continue
        store_certificate(lake_root, certificate)
        if certificate.found:
            held = "the subject was still found after erasure; see the certificate's tables"
            advance(lake_root, request, "failed", now(), f"{certificate.found} occurrences: {held}")
            failed += 1
            continue
        store_erased_subject(lake_root, erased_subject(subject, request.request_id, now()))
        drop_clear_ids(lake_root, request.request_id)
        detail = f"{certificate.tables_checked} tables checked, nothing found"
        advance(lake_root, request, "completed", now(), detail)
        completed += 1
    return ErasureRun(len(todo), completed, failed)
