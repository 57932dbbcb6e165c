"""Who to erase and which rows are theirs (pure): a request's :class:`Subject` and, per
catalogued table, the condition that finds the subject's rows by each subject column.

How a column identifies a person (:class:`~lakehouse_core.tables.SubjectKind`) decides how it is
matched:

- ``subject_key``: equal to the subject key;
- ``pseudonymous_id`` and ``device_id``: one of the keyed ids the identity links tie to the
  subject (each product keys its own ids, so they are found through its links, not computed);
- ``user_id``: one of the clear ids of the request (the user id, anonymous and device ids);
- ``free_text``: holds the subject key, a keyed id or a clear id as a whole token
  (:func:`token_pattern`), e.g. inside a raw JSON payload;
- ``ip``: not matched on its own (a truncated network is shared by many people); the row goes
  when another column names the subject.

An erasure applied again to a restored table knows the clear ids only as their subject keys
(:attr:`Subject.clear_id_keys`): then a ``user_id`` column matches when its subject key is one
of them, and a ``free_text`` column when the subject key of one of its JSON id fields
(:data:`PAYLOAD_ID_PATHS`) is.

The condition reads the subject from a one-row source frame (:func:`subject_frame`, alias
``s``) instead of literals, so the Delta log's record of the MERGE names columns, never the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakehouse_core.privacy import subject_key_sql
from lakehouse_core.tables import SubjectKind

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Characters that continue an identifier: a token found inside a longer run of them is another id.
ID_CHARACTERS = "A-Za-z0-9_.@+-"
#: Delta keeps a string column's min/max statistics truncated to this many characters.
DELTA_STATS_PREFIX = 32
#: Where a raw Segment message holds a person's clear ids.
PAYLOAD_ID_PATHS = ("$.userId", "$.anonymousId", "$.previousId", "$.context.device.id")


@dataclass(frozen=True)
class Subject:
    """The person of one erasure request: keyed values (kept) and clear ids (dropped once the
    certificate is issued)."""

    subject_key: str
    linked_ids: tuple[str, ...] = ()
    clear_ids: tuple[str, ...] = field(default=(), repr=False)
    clear_id_keys: tuple[str, ...] = ()
    """Subject keys of clear ids no longer known (an erasure applied again after a restore)."""

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every value that identifies the subject, each once, longest first."""
        values = {self.subject_key, *self.linked_ids, *self.clear_ids}
        return tuple(sorted((v for v in values if v), key=lambda v: (-len(v), v)))

    @property
    def search_tokens(self) -> tuple[str, ...]:
        """:attr:`tokens` and the prefixes of them that Delta's statistics would hold."""
        prefixes = {t[:DELTA_STATS_PREFIX] for t in self.tokens if len(t) > DELTA_STATS_PREFIX}
        return tuple(sorted({*self.tokens, *prefixes}, key=lambda v: (-len(v), v)))


def token_pattern(tokens: Iterable[str]) -> str:
    """A Java/Python regular expression that finds any of ``tokens`` as a whole token: not
    preceded or followed by :data:`ID_CHARACTERS`."""
    alternatives = "|".join(re.escape(t) for t in sorted(set(tokens), key=lambda t: (-len(t), t)) if t)
    if not alternatives:
        return r"(?!)"
    return rf"(?<![{ID_CHARACTERS}])(?:{alternatives})(?![{ID_CHARACTERS}])"


def subject_frame(spark: SparkSession, subject: Subject) -> DataFrame:
    """The one-row source of the erasure MERGE: ``subject_key``, ``linked_ids``, ``clear_ids``,
    ``clear_id_keys`` and ``pattern`` (:func:`token_pattern` of every token)."""
    return spark.createDataFrame(
        [
            (
                subject.subject_key,
                list(subject.linked_ids),
                list(subject.clear_ids),
                list(subject.clear_id_keys),
                token_pattern(subject.tokens),
            )
        ],
        "subject_key string, linked_ids array<string>, clear_ids array<string>, "
        "clear_id_keys array<string>, pattern string",
    )


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def match_condition(
    subject_columns: Mapping[str, SubjectKind],
    *,
    target: str = "t",
    source: str = "s",
    keyed_by: bytes | None = None,
) -> str | None:
    """The SQL condition (``target`` the table, ``source`` the :func:`subject_frame`) true for
    the subject's rows; None when no column can name a person on its own. With ``keyed_by``
    (the platform key), clear ids are also matched by their subject keys."""
    parts = []
    for column, kind in sorted(subject_columns.items()):
        value = f"{target}.{_quoted(column)}"
        if kind is SubjectKind.SUBJECT_KEY:
            parts.append(f"{value} = {source}.subject_key")
        elif kind in (SubjectKind.PSEUDONYMOUS_ID, SubjectKind.DEVICE_ID):
            parts.append(f"array_contains({source}.linked_ids, {value})")
        elif kind is SubjectKind.USER_ID:
            parts.append(f"array_contains({source}.clear_ids, {value})")
            if keyed_by is not None:
                parts.append(f"array_contains({source}.clear_id_keys, {subject_key_sql(value, keyed_by)})")
        elif kind is SubjectKind.FREE_TEXT:
            parts.append(f"regexp_like(CAST({value} AS STRING), {source}.pattern)")
            if keyed_by is not None:
                fields = ", ".join(
                    subject_key_sql(f"get_json_object(CAST({value} AS STRING), '{path}')", keyed_by)
                    for path in PAYLOAD_ID_PATHS
                )
                parts.append(f"arrays_overlap({source}.clear_id_keys, array({fields}))")
    return " OR ".join(f"({p})" for p in parts) if parts else None


def linked_ids(links: DataFrame, subject_key: str) -> DataFrame:
    """The distinct ``linked_id`` of the identity links (:class:`~lakehouse_core.identity.IdentityLink`
    rows) of ``subject_key``."""
    from pyspark.sql import functions as F

    return links.where(F.col("subject_key") == F.lit(subject_key)).select("linked_id").distinct()
