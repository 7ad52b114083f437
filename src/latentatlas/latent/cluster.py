"""Clustering the codes without labels, and scoring clusters against the labels.

Clusterers come from one dict, `CLUSTERERS`: a Gaussian mixture (study 003),
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

TITLES = {"gmm": "Gaussian mixture", "kmeans": "k-means", "n2d": "N2D (UMAP + Gaussian mixture)"}


def _check_n_clusters(n) -> int:
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise UserError(f"clustering needs at least 2 clusters, not {n!r}; use --n-clusters 2 or more")
    return int(n)


class N2D(ClusterMixin, BaseEstimator):
    """UMAP to `umap_dim` (default n_clusters) dimensions, then a Gaussian mixture.

    Fitted: umap_ (UMAPProjection), embedding_ (N, umap_dim), gmm_, labels_.
    knn: optional shared (indices, distances) graph as in `project.knn_graph`.
    """

    def __init__(self, n_clusters=10, umap_dim=None, n_neighbors=20, min_dist=0.0, covariance_type="full",
                 n_init=1, random_state=None, n_jobs=1, knn=None):
        self.n_clusters = n_clusters
        self.umap_dim = umap_dim
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.knn = knn

    def fit(self, X, y=None):
        from sklearn.mixture import GaussianMixture

        from .project import UMAPProjection

        k = _check_n_clusters(self.n_clusters)
        X = np.asarray(X, dtype=np.float32)
        dim = int(self.umap_dim or k)
        self.umap_ = UMAPProjection(n_components=dim, n_neighbors=self.n_neighbors, min_dist=self.min_dist,
                                    n_jobs=self.n_jobs, random_state=self.random_state, knn=self.knn).fit(X)
        self.embedding_ = self.umap_.embedding_
        self.gmm_ = GaussianMixture(k, covariance_type=self.covariance_type, n_init=self.n_init,
                                    random_state=self.random_state).fit(self.embedding_)
        self.labels_ = self.gmm_.predict(self.embedding_)
        return self

    def fit_predict(self, X, y=None):
        return self.fit(X).labels_


class GMMClusterer(ClusterMixin, BaseEstimator):
    """scikit-learn's GaussianMixture with `labels_` (study 003); fitted: gmm_, labels_."""

    def __init__(self, n_clusters=10, covariance_type="full", n_init=1, random_state=None):
        self.n_clusters = n_clusters
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.mixture import GaussianMixture

        k = _check_n_clusters(self.n_clusters)
        self.gmm_ = GaussianMixture(k, covariance_type=self.covariance_type, n_init=self.n_init,
                                    random_state=self.random_state).fit(X)
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

        k = _check_n_clusters(self.n_clusters)
        self.kmeans_ = KMeans(k, n_init=self.n_init, random_state=self.random_state).fit(X)
        self.labels_ = self.kmeans_.labels_
        return self


CLUSTERERS = {"gmm": GMMClusterer, "kmeans": KMeansClusterer, "n2d": N2D}


def make_clusterer(method, n_clusters=10, random_state=None, **params):
    """A clusterer from its name, or `method` itself if it is already an estimator."""
    if not isinstance(method, str):
        if not hasattr(method, "fit"):
            raise UserError(f"{method!r} is neither a clusterer name ({', '.join(CLUSTERERS)}) nor an estimator")
        return method
    if method not in CLUSTERERS:
        raise UserError(f"unknown clusterer {method!r}; choose from {', '.join(CLUSTERERS)}")
    _check_n_clusters(n_clusters)
    cls = CLUSTERERS[method]
    names = cls._get_param_names()
    kwargs = {k: v for k, v in params.items() if k in names}
    return cls(n_clusters=n_clusters, random_state=random_state, **kwargs)


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


def score_clustering(y_true, y_pred, class_names) -> dict:
    """Cluster accuracy (Hungarian), NMI, ARI, and the cluster-to-label table."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    acc, mapping = cluster_accuracy(y_true, y_pred)
    clusters = np.unique(y_pred)
    table = [[int(((y_pred == c) & (y_true == j)).sum()) for j in range(len(class_names))] for c in clusters]
    return {
        "accuracy": acc,            # Hungarian-matched cluster accuracy
        "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
        "n_clusters_found": int(len(clusters)),
        "cluster_to_label": {str(int(c)): (str(class_names[mapping[int(c)]])
                                           if mapping.get(int(c), -1) < len(class_names) else None)
                             for c in clusters},
        "table": {"rows": [f"cluster {int(c)}" for c in clusters], "columns": [str(c) for c in class_names],
                  "counts": table},
    }
