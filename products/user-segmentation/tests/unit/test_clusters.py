"""The clustering's pure parts: the configuration's checks, the centroid matching that keeps ids
stable, and the names generated from a cluster's features."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from user_segmentation.config import ClusteringConfig
from user_segmentation.contracts import FeatureProfile
from user_segmentation.processing.clusters import Scaler, cluster_name, match_ids

pytestmark = pytest.mark.unit

SCALER = Scaler(means=[10.0, 0.5], stddevs=[5.0, 0.5])


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"features": ["frequency_30d", "shoe_size"]}, "unknown clustering features 'shoe_size'"),
        ({"features": ["platforms_90d"]}, "the features are: recency_days"),
        ({"features": ["orders_90d"], "k_min": 1}, "k_min is 1; k-means needs at least 2 clusters"),
        ({"features": ["orders_90d"], "k_min": 5, "k_max": 3}, "k_min (5) is greater than k_max (3)"),
        ({"features": []}, "at least 1 item"),
    ],
)
def test_a_bad_clustering_section_is_refused_at_load(settings: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ClusteringConfig.model_validate(settings)
    assert says in str(refused.value)


def test_derived_features_are_accepted() -> None:
    config = ClusteringConfig(features=["mobile_90d", "web_90d", "platform_count_90d", "monetary_90d"])
    assert (config.k_min, config.k_max) == (2, 6)


def test_a_retrain_keeps_the_ids_of_matched_centroids_and_gives_a_new_cluster_a_fresh_id() -> None:
    previous = {4: [30.0, 1.0], 7: [2.0, 0.0], 9: [12.0, 0.0]}
    retrained = np.array([[11.0, 0.1], [29.0, 0.9], [50.0, 0.5], [3.0, 0.0]])

    ids = match_ids(retrained, previous, SCALER, sizes=[5, 5, 5, 5], next_id=10)

    assert ids == [9, 4, 10, 7]


def test_when_k_shrinks_the_farthest_previous_id_is_retired() -> None:
    previous = {1: [30.0, 1.0], 2: [2.0, 0.0], 3: [12.0, 0.0]}

    assert match_ids(np.array([[3.0, 0.0], [31.0, 1.0]]), previous, SCALER, sizes=[1, 1], next_id=4) == [2, 1]


def test_a_first_model_numbers_its_clusters_by_size() -> None:
    ids = match_ids(np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]), {}, SCALER, sizes=[3, 9, 5], next_id=1)

    assert ids == [3, 1, 2]


def profiles(**z_scores: float) -> list[FeatureProfile]:
    return [FeatureProfile(feature=f, mean=0.0, population_mean=0.0, z_score=z) for f, z in z_scores.items()]


@pytest.mark.parametrize(
    ("z_scores", "name"),
    [
        ({"mobile_90d": 1.4, "frequency_30d": 1.1, "recency_days": -0.7}, "mobile-first, high frequency"),
        ({"recency_days": 1.6, "frequency_7d": -1.2, "frequency_30d": -1.3}, "lapsed, low frequency"),
        ({"frequency_7d": 1.0, "frequency_30d": 1.2, "monetary_90d": 0.8}, "high frequency, high spend"),
        ({"monetary_90d": 0.3, "orders_90d": -0.2}, "typical"),
    ],
)
def test_a_clusters_name_comes_from_its_most_distinguishing_features(
    z_scores: dict[str, float], name: str
) -> None:
    assert cluster_name(profiles(**z_scores)) == name
