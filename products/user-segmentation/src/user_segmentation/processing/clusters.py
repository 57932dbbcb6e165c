"""ML segments, as transforms: k-means over the standardised person features of one day, k chosen
by silhouette, cluster ids kept stable across retrains by matching centroids, and each cluster's
profile and generated name (docs/DESIGN.md, docs/METRICS.md).

The Spark side (:func:`clustering_frame`, :func:`fit_scaler`, :func:`train`) reads and writes
nothing; the matching, profiles and names are plain Python over a handful of centroids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from user_segmentation.config import ClusteringConfig
from user_segmentation.contracts import FeatureProfile

if TYPE_CHECKING:
    import numpy as np
    from pyspark.sql import Column, DataFrame

CLUSTER_SEGMENT_PREFIX = "cluster-"
"""Cluster segments are ``cluster-<id>``: a rule segment's name has no ``-``, so they never clash."""
MOBILE_PLATFORMS = ("ios", "android", "other")
#: A feature names a cluster when its mean is at least this many population standard deviations
#: from the population's mean.
NAME_THRESHOLD = 0.5
NAME_PARTS = 2
#: What a feature far above (first) or below (second) the population says about a cluster.
LABELS: dict[str, tuple[str, str]] = {
    "recency_days": ("lapsed", "recently active"),
    "frequency": ("high frequency", "low frequency"),
    "sessions": ("many sessions", "few sessions"),
    "active_days": ("many active days", "few active days"),
    "orders_90d": ("frequent buyers", "few orders"),
    "monetary_90d": ("high spend", "low spend"),
    "mobile_90d": ("mobile-first", "rarely on mobile"),
    "web_90d": ("web-first", "rarely on web"),
    "platform_count_90d": ("multi-platform", "single-platform"),
    "funnel_stage_90d": ("deep in the funnel", "early in the funnel"),
}


def cluster_segment(cluster_id: int) -> str:
    return f"{CLUSTER_SEGMENT_PREFIX}{cluster_id}"


def is_cluster_segment() -> Column:
    from pyspark.sql import functions as F

    return F.col("segment").startswith(CLUSTER_SEGMENT_PREFIX)


def _feature_column(name: str) -> Column:
    from pyspark.sql import functions as F

    platforms = F.col("platforms_90d")
    derived = {
        "web_90d": F.array_contains(platforms, "web").cast("double"),
        "mobile_90d": F.arrays_overlap(platforms, F.array(*map(F.lit, MOBILE_PLATFORMS))).cast("double"),
        "platform_count_90d": F.size(platforms).cast("double"),
    }
    return derived.get(name, F.col(name).cast("double")).alias(name)


def clustering_frame(features: DataFrame, names: Sequence[str]) -> DataFrame:
    """Person features of one day → (person_id, subject_key, one double column per feature),
    ordered by person_id so a training sees its rows in the same order every time."""
    return features.select("person_id", "subject_key", *map(_feature_column, names)).orderBy("person_id")


@dataclass(frozen=True)
class Scaler:
    """Each feature's population mean and sample standard deviation: a value is standardised as
    ``(x - mean) / stddev``, and a constant feature (stddev 0) as 0."""

    means: list[float]
    stddevs: list[float]

    def standardise(self, values: np.ndarray) -> np.ndarray:
        import numpy as np

        means, stddevs = np.array(self.means), np.array(self.stddevs)
        safe = np.where(stddevs > 0, stddevs, 1.0)
        return np.where(stddevs > 0, (values - means) / safe, 0.0)  # type: ignore[no-any-return]

    def unstandardise(self, values: np.ndarray) -> np.ndarray:
        """Standardised values back in the features' units (a constant feature is its mean)."""
        import numpy as np

        means, stddevs = np.array(self.means), np.array(self.stddevs)
        return values * stddevs + means  # type: ignore[no-any-return]


def fit_scaler(frame: DataFrame, names: Sequence[str]) -> Scaler:
    from pyspark.sql import functions as F

    row = frame.agg(
        *[F.mean(n).alias(f"mean_{n}") for n in names],
        *[F.coalesce(F.stddev_samp(n), F.lit(0.0)).alias(f"std_{n}") for n in names],
    ).first()
    if row is None:
        return Scaler([0.0] * len(names), [0.0] * len(names))
    return Scaler([float(row[f"mean_{n}"] or 0.0) for n in names], [float(row[f"std_{n}"]) for n in names])


def standardised(frame: DataFrame, names: Sequence[str], scaler: Scaler) -> DataFrame:
    """``frame`` with a ``features`` vector of the standardised features (what k-means sees)."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    scaled = [
        ((F.col(n) - F.lit(m)) / F.lit(s) if s > 0 else F.lit(0.0)).alias(f"z_{n}")
        for n, m, s in zip(names, scaler.means, scaler.stddevs, strict=True)
    ]
    with_z = frame.select("*", *scaled)
    return VectorAssembler(inputCols=[f"z_{n}" for n in names], outputCol="features").transform(with_z)


@dataclass(frozen=True)
class Trained:
    """The chosen k-means model: every k's silhouette, the centroids (standardised, in k-means'
    index order) and the trained rows with each person's k-means index (``prediction``)."""

    silhouettes: dict[int, float]
    k: int
    centroids: np.ndarray
    assignments: DataFrame


def candidate_ks(config: ClusteringConfig, distinct_points: int) -> list[int]:
    """The k of ``k_min..k_max`` worth training: fewer than the distinct feature vectors (more
    clusters than points leaves some empty, and a silhouette needs a point to compare with)."""
    return [k for k in range(config.k_min, config.k_max + 1) if k < distinct_points]


def train(vectors: DataFrame, ks: Sequence[int], *, seed: int, max_iter: int) -> Trained | None:
    """k-means for every k of ``ks`` on the ``features`` vectors; the highest silhouette wins (the
    smaller k on a tie). A k that leaves a cluster empty is not scored; None when none is."""
    import numpy as np
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.evaluation import ClusteringEvaluator

    evaluator = ClusteringEvaluator(featuresCol="features", predictionCol="prediction")
    scores: dict[int, float] = {}
    best: tuple[float, int, np.ndarray, DataFrame] | None = None
    for k in ks:
        model = KMeans(k=k, seed=seed, maxIter=max_iter, featuresCol="features").fit(vectors)
        if len(model.clusterCenters()) != k or min(model.summary.clusterSizes) == 0:
            continue
        predictions = model.transform(vectors)
        silhouette = float(evaluator.evaluate(predictions))
        scores[k] = silhouette
        if best is None or silhouette > best[0]:
            best = (silhouette, k, np.array(model.clusterCenters()), predictions)
    if best is None:
        return None
    return Trained(scores, best[1], best[2], best[3].drop("features"))


def match_ids(
    centroids: np.ndarray,
    previous: Mapping[int, Sequence[float | None]],
    scaler: Scaler,
    *,
    sizes: Sequence[int],
    next_id: int,
) -> list[int]:
    """The stable id of each new centroid (raw units, k-means' index order).

    With a previous model, its centroids (raw units) and the new ones are both standardised with
    the new population's scaler, and the assignment that minimises the summed Euclidean distance
    (Hungarian algorithm) gives each matched new centroid its previous id. New centroids left over
    (k grew) get fresh ids from ``next_id`` in index order; previous ids left over (k shrank)
    are retired. Without one, ids are ``next_id``, ``next_id + 1``, ... by size, largest first."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    k = len(centroids)
    if not previous:
        by_size = sorted(range(k), key=lambda i: (-sizes[i], i))
        return [next_id + by_size.index(i) for i in range(k)]
    previous_ids = sorted(previous)
    before = np.array([previous[i] for i in previous_ids])
    rows, columns = linear_sum_assignment(cdist(scaler.standardise(centroids), scaler.standardise(before)))
    ids: list[int | None] = [None] * k
    for row, column in zip(rows, columns, strict=True):
        ids[int(row)] = previous_ids[int(column)]
    fresh = iter(range(next_id, next_id + k))
    return [found if found is not None else next(fresh) for found in ids]


def feature_profiles(names: Sequence[str], means: Sequence[float], scaler: Scaler) -> list[FeatureProfile]:
    """One cluster's features against the population, the most distinguishing (largest |z|) first."""
    profiles = [
        FeatureProfile(
            feature=name,
            mean=mean,
            population_mean=pop,
            z_score=(mean - pop) / std if std > 0 else 0.0,
        )
        for name, mean, pop, std in zip(names, means, scaler.means, scaler.stddevs, strict=True)
    ]
    return sorted(profiles, key=lambda p: (-abs(p.z_score), p.feature))


def _label(feature: str, z_score: float) -> str:
    family = next((key for key in LABELS if feature == key or feature.startswith(f"{key}_")), None)
    high, low = LABELS[family] if family else (f"high {feature}", f"low {feature}")
    return high if z_score > 0 else low


def cluster_name(profiles: Sequence[FeatureProfile]) -> str:
    """Up to two labels of the features furthest from the population (|z| ≥ 0.5), most
    distinguishing first, e.g. "mobile-first, high frequency"; "typical" when none is."""
    labels: list[str] = []
    for profile in sorted(profiles, key=lambda p: (-abs(p.z_score), p.feature)):
        if abs(profile.z_score) < NAME_THRESHOLD or len(labels) == NAME_PARTS:
            break
        label = _label(profile.feature, profile.z_score)
        if label not in labels:
            labels.append(label)
    return ", ".join(labels) or "typical"


def model_version(
    config: ClusteringConfig, as_of: date, k: int, centroids: Mapping[int, Sequence[float]]
) -> str:
    """16 hex digits of SHA-256 of what defines the model: the same day, settings and result give
    the same version (a re-run of a day is recognised)."""
    payload = {
        "as_of": as_of.isoformat(),
        "features": config.features,
        "seed": config.seed,
        "max_iter": config.max_iter,
        "k_range": [config.k_min, config.k_max],
        "k": k,
        "centroids": {str(i): [round(v, 9) for v in values] for i, values in sorted(centroids.items())},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def cluster_predicate(version: str, cluster_id: int, name: str) -> str:
    """What a cluster membership records as its reason (the ``predicate`` of the spell)."""
    return f"k-means model {version}: nearest centroid is cluster {cluster_id} ({name})"
