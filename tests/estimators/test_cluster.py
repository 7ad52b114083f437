"""Clustering: Hungarian cluster accuracy, NMI/ARI, GMM / k-means / N2D, bad cluster counts."""

import numpy as np
import pytest

from latentatlas.errors import UserError
from latentatlas.estimators.cluster import (N2D, GMMClusterer, KMeansClusterer, cluster_accuracy, make_clusterer,
                                        score_clustering)


def blobs(n=600, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 6, size=(k, d))
    y = np.arange(n) % k
    return (centers[y] + rng.normal(0, 0.5, size=(n, d))).astype(np.float32), y


def test_cluster_accuracy_is_invariant_to_renaming_clusters():
    y = np.array([0, 0, 1, 1, 2, 2])
    acc, mapping = cluster_accuracy(y, np.array([2, 2, 0, 0, 1, 1]))
    assert acc == 1.0 and mapping == {2: 0, 0: 1, 1: 2}


def test_cluster_accuracy_matches_one_to_one():
    # Two clusters both mostly "0": only one may be matched to it.
    y = np.array([0, 0, 0, 0, 1, 1])
    acc, mapping = cluster_accuracy(y, np.array([0, 0, 1, 1, 1, 1]))
    assert acc == pytest.approx(4 / 6)
    assert sorted(mapping.values()) == [0, 1]


def test_score_clustering_table_and_measures():
    y = np.array([0, 0, 1, 1, 2, 2])
    s = score_clustering(y, np.array([1, 1, 0, 0, 0, 2]), ["a", "b", "c"])
    assert s["accuracy"] == pytest.approx(5 / 6)
    assert np.asarray(s["table"]["counts"]).sum() == 6
    assert s["cluster_to_label"] == {"0": "b", "1": "a", "2": "c"}
    assert 0 < s["nmi"] < 1 and 0 < s["ari"] < 1


@pytest.mark.parametrize("name", ["gmm", "kmeans"])
def test_gmm_and_kmeans_recover_blobs(name):
    X, y = blobs()
    est = make_clusterer(name, 3, random_state=0, covariance_type="full", n_init=2).fit(X)
    assert score_clustering(y, est.labels_, ["a", "b", "c"])["accuracy"] == 1.0


def test_n2d_recovers_blobs_through_umap():
    X, y = blobs(400)
    est = N2D(n_clusters=3, n_neighbors=10, random_state=0).fit(X)
    assert est.embedding_.shape == (400, 3)            # UMAP to n_clusters dims, as N2D does
    assert score_clustering(y, est.labels_, ["a", "b", "c"])["accuracy"] == 1.0


@pytest.mark.parametrize("name", ["gmm", "kmeans", "n2d"])
def test_fewer_than_two_clusters_is_a_user_error(name):
    X, _ = blobs(50)
    with pytest.raises(UserError, match="at least 2 clusters"):
        make_clusterer(name, 1)
    cls = type(make_clusterer(name, 2))
    # The estimator itself allows one cluster, as scikit-learn's KMeans does (its checks clone
    # with n_clusters=1); no clusters, or more than points, is refused in fit.
    with pytest.raises(UserError, match="positive integer"):
        cls(n_clusters=0).fit(X)
    with pytest.raises(UserError, match="51 clusters need at least 51 codes"):
        cls(n_clusters=51).fit(X)


@pytest.mark.parametrize("cls", [GMMClusterer, KMeansClusterer])
def test_one_cluster_holds_every_code(cls):
    X, _ = blobs(50)
    assert (cls(n_clusters=1, random_state=0).fit(X).labels_ == 0).all()


def test_estimator_contract_and_unknown_names():
    est = GMMClusterer(n_clusters=4, covariance_type="diag", random_state=5)
    assert est.get_params() == {"n_clusters": 4, "covariance_type": "diag", "n_init": 1, "random_state": 5}
    with pytest.raises(UserError, match="unknown clusterer"):
        make_clusterer("dbscan", 3)


def test_mixtures_of_narrow_codes_fit_on_one_blas_thread():
    """GaussianMixture on <= 64-d codes runs on one BLAS thread (faster there, same result);
    wider codes keep the threads they had."""
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    from latentatlas.estimators.base import NARROW_MIXTURE_DIMS, fit_mixture

    class Watch:
        def fit(self, X):
            self.blas = {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
            return self

    with threadpool_limits(limits=2, user_api="blas"):
        assert fit_mixture(Watch(), np.zeros((5, NARROW_MIXTURE_DIMS))).blas == {1}
        assert fit_mixture(Watch(), np.zeros((5, NARROW_MIXTURE_DIMS + 1))).blas == {2}
        assert {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"} == {2}   # put back


def test_clustering_reports_balanced_accuracy_and_the_majority_baseline():
    from latentatlas.estimators.cluster import score_clustering

    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    everything_in_one = score_clustering(y, np.zeros(100, int), ["a", "b"])
    assert everything_in_one["accuracy"] == everything_in_one["majority_baseline"]["accuracy"] == 0.8
    assert everything_in_one["balanced_accuracy"] == 0.5 and everything_in_one["majority_baseline"]["class"] == "a"
    perfect = score_clustering(y, 1 - y, ["a", "b"])
    assert perfect["accuracy"] == perfect["balanced_accuracy"] == 1.0
