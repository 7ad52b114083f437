"""Clustering the codes without labels, and scoring clusters against the labels.

Clusterers are chosen by name from `latentatlas.registry.CLUSTERERS`: a Gaussian mixture (study 003),
k-means, and N2D (McConville et al., 2020: "N2D: (Not Too) Deep Clustering via
Clustering the Local Manifold of an Autoencoded Embedding"): a UMAP embedding of
the codes (n_components = n_clusters, min_dist = 0) clustered by a Gaussian
mixture. Labels are used only to score: cluster accuracy after Hungarian
matching of clusters to classes (`scipy.optimize.linear_sum_assignment`), NMI
and ARI, and the cluster-to-label table.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from ..errors import UserError
from ..registry import CLUSTERERS
from .base import InputError, build, fit_mixture, validate


def _check_n_clusters(n) -> None:
    """What a clustering of the codes asks for: at least 2 clusters (the CLI's rule)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise UserError(f"clustering needs at least 2 clusters, not {n!r}; use --n-clusters 2 or more")


def _fit_input(est, X, dtype=(np.float64, np.float32)):
    """Validated (N, d) codes (sets n_features_in_) and the number of clusters as an int.

    One cluster is allowed here, as scikit-learn's KMeans and GaussianMixture allow it
    (its estimator checks set n_clusters=1); `make_clusterer` keeps the CLI's >= 2.
    """
    X = validate(est, X, dtype=list(dtype), what="clustering")
    k = est.n_clusters
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise UserError(f"n_clusters must be a positive integer, not {k!r}; use --n-clusters 2 or more")
    if k > len(X):
        raise InputError(f"{k} clusters need at least {k} codes, got n_samples = {len(X)}; lower --n-clusters")
    return X, int(k)


class N2D(ClusterMixin, BaseEstimator):
    """UMAP to `umap_dim` (default n_clusters) dimensions, then a Gaussian mixture.

    Fitted: umap_ (UMAPProjection), embedding_ (N, umap_dim), gmm_, labels_.
    knn: optional shared (indices, distances) graph as in `project.knn_graph`.
    layout: UMAPProjection's ("seeded" or "parallel").
    """

    def __init__(self, n_clusters=10, umap_dim=None, n_neighbors=20, min_dist=0.0, covariance_type="full",
                 n_init=1, random_state=None, n_jobs=1, knn=None, layout="seeded"):
        self.n_clusters = n_clusters
        self.umap_dim = umap_dim
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.knn = knn
        self.layout = layout

    def fit(self, X, y=None):
        from sklearn.mixture import GaussianMixture

        from .project import UMAPProjection

        X, k = _fit_input(self, X, dtype=(np.float32,))
        dim = int(self.umap_dim or k)
        self.umap_ = UMAPProjection(n_components=dim, n_neighbors=self.n_neighbors, min_dist=self.min_dist,
                                    n_jobs=self.n_jobs, random_state=self.random_state, knn=self.knn,
                                    layout=self.layout).fit(X)
        self.embedding_ = self.umap_.embedding_
        self.gmm_ = fit_mixture(GaussianMixture(k, covariance_type=self.covariance_type, n_init=self.n_init,
                                                random_state=self.random_state), self.embedding_)
        self.labels_ = self.gmm_.predict(self.embedding_)
        return self


class GMMClusterer(ClusterMixin, BaseEstimator):
    """scikit-learn's GaussianMixture with `labels_` (study 003); fitted: gmm_, labels_."""

    def __init__(self, n_clusters=10, covariance_type="full", n_init=1, random_state=None):
        self.n_clusters = n_clusters
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.mixture import GaussianMixture

        X, k = _fit_input(self, X)
        self.gmm_ = fit_mixture(GaussianMixture(k, covariance_type=self.covariance_type, n_init=self.n_init,
                                                random_state=self.random_state), X)
        self.labels_ = self.gmm_.predict(X)
        return self


class KMeansClusterer(ClusterMixin, BaseEstimator):
    """scikit-learn's KMeans (Lloyd), with the same n_clusters check; fitted: kmeans_, labels_."""

    def __init__(self, n_clusters=10, n_init=1, random_state=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.cluster import KMeans

        X, k = _fit_input(self, X)
        self.kmeans_ = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(X)
        self.labels_ = self.kmeans_.labels_
        return self


def make_clusterer(method, n_clusters=10, random_state=None, backend="cpu", **params):
    """A clusterer by its name in `registry.CLUSTERERS` with the parameters its class takes,
    or `method` itself if it is already an estimator; backend "torch" picks the entry's torch class if any."""
    if isinstance(method, str):
        CLUSTERERS.check(method)
        _check_n_clusters(n_clusters)
    return build(CLUSTERERS, method, dict(n_clusters=n_clusters, random_state=random_state), params,
                 backend=backend)


def cluster_accuracy(y_true, y_pred) -> tuple[float, dict[int, int]]:
    """Unsupervised clustering accuracy: the best one-to-one map of clusters to labels.

    The contingency table (clusters x labels) is matched by the Hungarian algorithm
    (maximum total agreement); accuracy = matched count / N. Returns (accuracy,
    {cluster: label}); clusters left unmatched (more clusters than labels) map to -1.
    """
    from scipy.optimize import linear_sum_assignment

    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    n = max(int(y_pred.max()), int(y_true.max())) + 1
    table = np.zeros((n, n), dtype=np.int64)            # (cluster, label) counts
    np.add.at(table, (y_pred, y_true), 1)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = {int(r): int(c) for r, c in zip(rows, cols)}
    acc = table[rows, cols].sum() / len(y_true)
    return float(acc), mapping


def _balanced(y_true, matched) -> float | None:
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    if not len(y_true):
        return None
    with warnings.catch_warnings():              # unmatched clusters (-1) are a class y_true lacks: wrong, as meant
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(y_true, matched))


def score_clustering(y_true, y_pred, class_names) -> dict:
    """Cluster accuracy (Hungarian), its balanced accuracy (mean per-class recall of the matched
    clusters), NMI, ARI, the majority-class baseline (one cluster for every point: its accuracy is
    the largest class's share), and the cluster-to-label table."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    acc, mapping = cluster_accuracy(y_true, y_pred)
    clusters = np.unique(y_pred)
    matched = np.array([mapping.get(int(c), -1) for c in y_pred])      # -1: a cluster left unmatched
    counts = np.bincount(y_true, minlength=len(class_names))
    table = [[int(((y_pred == c) & (y_true == j)).sum()) for j in range(len(class_names))] for c in clusters]
    return {
        "accuracy": acc,            # Hungarian-matched cluster accuracy
        "balanced_accuracy": _balanced(y_true, matched),
        "majority_baseline": {"class": str(class_names[int(np.argmax(counts))]),
                              "accuracy": float(counts.max() / max(1, len(y_true))),
                              "balanced_accuracy": 1.0 / max(1, int((counts > 0).sum()))},
        "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
        "n_clusters_found": int(len(clusters)),
        "cluster_to_label": {str(int(c)): (str(class_names[mapping[int(c)]])
                                           if mapping.get(int(c), -1) < len(class_names) else None)
                             for c in clusters},
        "table": {"rows": [f"cluster {int(c)}" for c in clusters], "columns": [str(c) for c in class_names],
                  "counts": table},
    }
