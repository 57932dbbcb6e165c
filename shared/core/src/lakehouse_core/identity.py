"""Identity links: which product-keyed ids (a web anonymous id, a mobile device) belong to which
person (a subject key), with the event that says so.

An anonymous or device id keeps its product's pseudonym; it is tied to a subject only by an
event in which the person identified themselves: an ``identify`` call naming the user with the
anonymous id (web), a sign-in (an ``identify`` from an app, mobile) or an ``alias`` of an earlier
id. So the links are data with evidence, never a guess; user-segmentation's identity graph and
compliance-auditing's erasure read them through the catalog.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from lakehouse_core.contracts import conform
from lakehouse_core.privacy import SUBJECT_KEY_COLUMN
from lakehouse_core.tables import (
    PSEUDONYMOUS_RETENTION_DAYS,
    Layer,
    Retention,
    SubjectKind,
    TableSpec,
    declare_table,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

IDENTITY_LINKS = "identity_links"
#: What makes a link: one event ties one product id to its subject. A replayed event yields the
#: same key, so writing links insert-if-new on it adds no duplicate.
LINK_KEYS = ("event_id", "linked_id")


class LinkKind(StrEnum):
    IDENTIFY = "identify"
    """An identify call with both the user id and the anonymous id (web)."""
    ALIAS = "alias"
    """An alias call: the user id and an earlier id (``previousId``)."""
    SIGN_IN = "sign_in"
    """An identify call from an app: the user signed in on the device (mobile)."""


class IdentityLink(BaseModel):
    """Silver: a product id tied to a person by an event (identify, alias, sign-in), with the
    event as evidence."""

    subject_key: str = Field(description="The person: keyed HMAC of the user id (platform key).")
    linked_id: str = Field(description="The product-keyed id tied to the person.")
    linked_id_kind: str = Field(description="pseudonymous_id (an anonymous or earlier id) or device_id.")
    link_kind: str = Field(description="identify, alias or sign_in: the call that made the link.")
    event_id: str = Field(description="Evidence: the silver event (messageId) that made the link.")
    linked_at: datetime = Field(description="Evidence: when that event happened (UTC).")
    event_date: date = Field(description="UTC date of linked_at; the partition column.")
    source_table: str = Field(description="Evidence: the qualified name of the event's table.")


def identity_links_table(product: str) -> TableSpec:
    """The product's ``silver.identity_links``, read from its silver events."""
    return declare_table(
        product,
        IDENTITY_LINKS,
        Layer.SILVER,
        IdentityLink,
        "event_date",
        upstream=(f"{product}.{Layer.SILVER.value}.events",),
        retention=Retention(PSEUDONYMOUS_RETENTION_DAYS, "event_date"),
        subject_columns={
            SUBJECT_KEY_COLUMN: SubjectKind.SUBJECT_KEY,
            "linked_id": SubjectKind.PSEUDONYMOUS_ID,
        },
    )


@dataclass(frozen=True)
class LinkRule:
    """Events of ``event_type`` with a subject key link it to the product id in ``linked_id``."""

    event_type: str
    linked_id: str
    linked_id_kind: SubjectKind
    link_kind: LinkKind


def identity_links(events: DataFrame, rules: Sequence[LinkRule], *, source_table: str) -> DataFrame:
    """Silver events → :class:`IdentityLink` rows, one per event and rule that ties a subject key
    to a product id; each link once (pure). Events need ``event_id``, ``event_type``,
    ``event_ts``, ``event_date``, ``subject_key`` and the rules' ``linked_id`` columns."""
    from functools import reduce

    from pyspark.sql import functions as F

    def links(rule: LinkRule) -> DataFrame:
        linked: Column = F.col(rule.linked_id)
        return events.where(
            (F.col("event_type") == rule.event_type)
            & F.col(SUBJECT_KEY_COLUMN).isNotNull()
            & linked.isNotNull()
        ).select(
            F.col(SUBJECT_KEY_COLUMN),
            linked.alias("linked_id"),
            F.lit(rule.linked_id_kind.value).alias("linked_id_kind"),
            F.lit(rule.link_kind.value).alias("link_kind"),
            F.col("event_id"),
            F.col("event_ts").alias("linked_at"),
            F.col("event_date"),
            F.lit(source_table).alias("source_table"),
        )

    found = reduce(lambda a, b: a.unionByName(b), (links(rule) for rule in rules))
    return conform(found.dropDuplicates(list(LINK_KEYS)), IdentityLink)
