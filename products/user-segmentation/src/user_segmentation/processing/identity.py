"""The identity graph, as transforms: web's and mobile's identity links → edges with the
over-merge guard's verdict → persons (connected components of the accepted edges).

Nodes are subject keys (``subject:<key>``) and product ids (``<product>:<kind>:<id>``: a web
anonymous id, a mobile device, an earlier id named by an alias). Every id an event carries is a
node, so an anonymous visitor who never signs in is a person of one node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import reduce
from typing import TYPE_CHECKING

from lakehouse_core.contracts import conform
from lakehouse_core.errors import JobError
from lakehouse_core.tables import SubjectKind
from user_segmentation.config import MergeLimit
from user_segmentation.contracts import IdentityEdge, PersonNode
from user_segmentation.storage.tables import Source

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

SUBJECT_PREFIX = "subject:"
#: Label prefixes: a component's smallest label is its smallest subject key when it has one.
_SUBJECT_RANK, _PRODUCT_RANK = "0", "1"
DEFAULT_MAX_ITERATIONS = 100


def subject_node(subject_key: Column) -> Column:
    from pyspark.sql import functions as F

    return F.concat(F.lit(SUBJECT_PREFIX), subject_key)


def product_node(product: str, kind: Column | str, linked_id: Column) -> Column:
    """``<product>:<kind>:<id>``; null when the id is null (an event without one has no node)."""
    from pyspark.sql import functions as F

    kind_column = F.lit(kind) if isinstance(kind, str) else kind
    return F.concat(F.lit(f"{product}:"), kind_column, F.lit(":"), linked_id)


def link_edges(links: DataFrame, *, product: str) -> DataFrame:
    """A product's ``silver.identity_links`` rows as edges (before the guard)."""
    from pyspark.sql import functions as F

    return links.select(
        "subject_key",
        product_node(product, F.col("linked_id_kind"), F.col("linked_id")).alias("node_id"),
        "linked_id",
        "linked_id_kind",
        F.lit(product).alias("source_product"),
        "link_kind",
        "event_id",
        "linked_at",
        "event_date",
        "source_table",
    )


def guard_over_merge(edges: DataFrame, limits: Mapping[SubjectKind, MergeLimit]) -> DataFrame:
    """Edges → :class:`IdentityEdge` rows with the guard's verdict.

    For each product id and each subject key linked to it, the subject's first link time is
    ``t``; ``subjects_in_window`` counts the subject keys whose first link to the id falls in
    ``[t - window_days, t]``. Past ``max_subjects`` every edge of that (id, subject) pair is
    refused with the reason; the first subjects stay linked. An id kind without a limit is never
    refused (``subjects_in_window`` then counts from the first link)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    firsts = edges.groupBy("node_id", "linked_id_kind", "subject_key").agg(
        F.min("linked_at").cast("long").alias("first_seconds")
    )

    def judged(kind: str | None, limit: MergeLimit | None) -> DataFrame:
        if kind is None:
            rows = firsts.where(~F.col("linked_id_kind").isin([k.value for k in limits]))
        else:
            rows = firsts.where(F.col("linked_id_kind") == kind)
        ordered = Window.partitionBy("node_id").orderBy("first_seconds")
        span = (
            ordered.rangeBetween(-limit.window_days * 86_400, 0)
            if limit
            else ordered.rangeBetween(Window.unboundedPreceding, 0)
        )
        counted = rows.withColumn("subjects_in_window", F.count(F.lit(1)).over(span))
        if limit is None:
            return counted.withColumn("refused_reason", F.lit(None).cast("string"))
        reason = F.format_string(
            f"%s linked to %d subject keys within {limit.window_days} days (limit {limit.max_subjects})",
            F.col("linked_id_kind"),
            F.col("subjects_in_window"),
        )
        return counted.withColumn(
            "refused_reason", F.when(F.col("subjects_in_window") > limit.max_subjects, reason)
        )

    verdicts = reduce(
        lambda a, b: a.unionByName(b),
        [judged(kind.value, limit) for kind, limit in limits.items()] + [judged(None, None)],
    ).select("node_id", "subject_key", "subjects_in_window", "refused_reason")
    result = edges.join(verdicts, ["node_id", "subject_key"]).withColumn(
        "accepted", F.col("refused_reason").isNull()
    )
    return conform(result, IdentityEdge)


REMOVED_PREFIX = "removed: "


def apply_removals(edges: DataFrame, removals: DataFrame) -> DataFrame:
    """Guarded edges (:class:`IdentityEdge` rows) with every edge a removal names (by its
    ``node_id`` and ``subject_key``) refused: ``refused_reason`` is ``removed: <reason>`` (the
    oldest removal's, when there are several), whatever the guard said; the components are then
    computed without it. ``subjects_in_window`` stays the guard's count."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    first = Window.partitionBy("node_id", "subject_key").orderBy("removed_at", "removal_id")
    reasons = (
        removals.withColumn("rank", F.row_number().over(first))
        .where(F.col("rank") == 1)
        .select("node_id", "subject_key", F.concat(F.lit(REMOVED_PREFIX), "reason").alias("removed"))
    )
    judged = (
        edges.join(reasons, ["node_id", "subject_key"], "left")
        .withColumn("refused_reason", F.coalesce("removed", "refused_reason"))
        .withColumn("accepted", F.col("refused_reason").isNull())
    )
    return conform(judged, IdentityEdge)


def event_nodes(events: DataFrame, source: Source) -> DataFrame:
    """The node each of a product's silver events belongs to: its subject key when it has one,
    else its product id (``node_id``, plus the node's columns of :class:`PersonNode`)."""
    from pyspark.sql import functions as F

    subject = F.col("subject_key")
    anonymous = F.col(source.anonymous_column)
    return events.where(subject.isNotNull() | anonymous.isNotNull()).select(
        F.when(subject.isNotNull(), subject_node(subject))
        .otherwise(product_node(source.product, source.anonymous_kind.value, anonymous))
        .alias("node_id"),
        *[c.alias(n) for n, c in _node_columns(subject, source, anonymous).items()],
    )


def _node_columns(subject: Column, source: Source, anonymous: Column) -> dict[str, Column]:
    from pyspark.sql import functions as F

    known = subject.isNotNull()
    return {
        "node_kind": F.when(known, F.lit("subject_key")).otherwise(F.lit(source.anonymous_kind.value)),
        "source_product": F.when(known, F.lit(None)).otherwise(F.lit(source.product)),
        "subject_key": subject,
        "linked_id": F.when(known, F.lit(None)).otherwise(anonymous),
    }


def edge_nodes(edges: DataFrame) -> DataFrame:
    """Both ends of every edge (refused ones too: a refused device is still a node)."""
    from pyspark.sql import functions as F

    subjects = edges.select(
        subject_node(F.col("subject_key")).alias("node_id"),
        F.lit("subject_key").alias("node_kind"),
        F.lit(None).cast("string").alias("source_product"),
        F.col("subject_key"),
        F.lit(None).cast("string").alias("linked_id"),
    )
    products = edges.select(
        "node_id",
        F.col("linked_id_kind").alias("node_kind"),
        "source_product",
        F.lit(None).cast("string").alias("subject_key"),
        "linked_id",
    )
    return subjects.unionByName(products)


def person_nodes(
    nodes: Sequence[DataFrame], edges: DataFrame, *, max_iterations: int = DEFAULT_MAX_ITERATIONS
) -> DataFrame:
    """Nodes (frames of :func:`event_nodes` and :func:`edge_nodes`) and guarded edges →
    :class:`PersonNode` rows: connected components over the accepted edges by iterative
    min-label propagation (each round, a node takes the smallest label among itself and its
    neighbours; it stops when no label changes, after at most the component's diameter rounds).

    Raises :class:`JobError` when ``max_iterations`` rounds do not converge, naming the limit."""
    from pyspark.sql import functions as F

    all_nodes = reduce(lambda a, b: a.unionByName(b), nodes).dropDuplicates(["node_id"])
    label = F.when(
        F.col("node_kind") == "subject_key", F.concat(F.lit(_SUBJECT_RANK), F.col("subject_key"))
    ).otherwise(F.concat(F.lit(_PRODUCT_RANK), F.col("node_id")))
    labels = all_nodes.select("node_id", label.alias("label")).localCheckpoint()
    accepted = edges.where("accepted").select(
        subject_node(F.col("subject_key")).alias("a"), F.col("node_id").alias("b")
    )
    neighbours = accepted.unionByName(
        accepted.select(F.col("b").alias("a"), F.col("a").alias("b"))
    ).distinct()
    neighbours = neighbours.localCheckpoint()
    for _ in range(max_iterations):
        offered = (
            neighbours.join(labels.withColumnRenamed("node_id", "b"), "b")
            .groupBy("a")
            .agg(F.min("label").alias("offered"))
        )
        updated = (
            labels.join(offered.withColumnRenamed("a", "node_id"), "node_id", "left")
            .select("node_id", "label", F.least("label", F.coalesce("offered", "label")).alias("next"))
            .localCheckpoint()
        )
        changed = updated.where(F.col("next") != F.col("label")).limit(1).count()
        labels = updated.select("node_id", F.col("next").alias("label"))
        if not changed:
            break
    else:
        raise JobError(
            f"the identity graph did not converge in {max_iterations} rounds of label propagation; "
            "a chain of ids this long is unusual: check the refused_reason counts of identity_edges "
            "and tighten identity.merge_limits"
        )
    representative = F.substring("label", 2, 1 << 20)
    persons = labels.select(
        "node_id",
        F.concat(F.lit("p_"), F.substring(F.sha2(representative, 256), 1, 24)).alias("person_id"),
        F.when(F.substring("label", 1, 1) == _SUBJECT_RANK, representative).alias("person_subject_key"),
    )
    return conform(all_nodes.join(persons, "node_id"), PersonNode)
