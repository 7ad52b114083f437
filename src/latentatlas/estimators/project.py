"""Projections of latent codes (or raw pixels) to 2-D / 3-D, and how good they are.

Estimators in the scikit-learn style: parameters stored unchanged in
`__init__`, validation and work in `fit` (returns self), fitted state in
attributes ending in `_` (`embedding_` (N, n_components_), `notes_`: plain
sentences for figures and metrics, e.g. a fallback to fewer dimensions).
Backends are chosen by name from `latentatlas.registry.PROJECTIONS` (class, title,
limits), as openTSNE chooses its backends from one small dict; a caller may pass
an object of their own instead of a name.

Where the data allows fewer dimensions than asked (LDA gives at most
n_classes - 1; PCA at most the latent size) the estimator falls back to what
is possible and says so in `notes_`; asking a method for more dimensions than
it can ever draw is a `UserError`.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..runtime import as_threads
from ..errors import UserError
from ..registry import PROJECTIONS
from ..registry import UMAP_LAYOUTS as SETTINGS_UMAP_LAYOUTS
from .base import InputError, build, flatten_images, validate


def _check_n_components(name: str, n: int, limit: int | None = None) -> int:
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise UserError(f"{name}: n_components must be a positive integer, not {n!r}")
    if limit is not None and n > limit:
        raise UserError(f"{name} cannot embed in {n} dimensions (at most {limit}); ask for 2 or 3")
    return int(n)


def _fit_input(est, X, y="no_validation"):
    """float32 (N, d) points to fit (images are flattened to pixels); sets n_features_in_."""
    out = validate(est, flatten_images(X), y, dtype=np.float32)
    n = len(out[0] if isinstance(out, tuple) else out)
    if n < 3:
        raise InputError(f"a projection needs at least 3 points, got n_samples = {n}")
    return out


def _transform_input(est, X) -> np.ndarray:
    """float32 (N, d) points to map with a fitted projection (NotFittedError before fit)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(est)
    return validate(est, flatten_images(X), reset=False, dtype=np.float32)


class _Projection(TransformerMixin, BaseEstimator):
    """Shared tags: every projection computes in float32 and returns float32 (codes are
    float32 throughout the package), so float32 is the dtype it preserves, not float64."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def fit_transform(self, X, y=None):
        """The embedding found while fitting (for t-SNE and UMAP, not a second embedding of X)."""
        return self.fit(X, y).embedding_


WIDE_FEATURES = 1024      # above this many input features PCA takes the covariance route


class PCAProjection(_Projection):
    """PCA with the whole eigenvalue spectrum kept (study 004 read "about 20 dims" off it).

    Fitted: pca_ (sklearn PCA over all min(N, d) components), embedding_ (N, k),
    explained_variance_ (eigenvalues), explained_variance_ratio_, cumulative_ratio_,
    components_for_ {"90%": n, "95%": n, "99%": n}, n_components_, notes_.
    """

    def __init__(self, n_components=2, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA

        X = _fit_input(self, X)
        k = _check_n_components("PCA", self.n_components)
        full = min(X.shape)
        self.notes_ = []
        if k > X.shape[1]:
            self.notes_.append(f"PCA asked for {k} dimensions but the data has only {X.shape[1]}: "
                               f"showing {X.shape[1]}")
            k = X.shape[1]
        # Wide inputs (raw colour pixels: 3,072 values) with more rows than columns: the whole
        # spectrum from the d x d covariance's eigendecomposition, several times faster than
        # the SVD of the data at this size and the same spectrum.
        wide = X.shape[1] > WIDE_FEATURES and X.shape[0] >= X.shape[1]
        self.pca_ = PCA(n_components=full, random_state=self.random_state,
                        svd_solver="covariance_eigh" if wide else "auto").fit(X)
        self.n_components_ = k
        self.explained_variance_ = self.pca_.explained_variance_
        self.explained_variance_ratio_ = self.pca_.explained_variance_ratio_
        self.cumulative_ratio_ = np.cumsum(self.explained_variance_ratio_)
        self.components_for_ = {
            f"{int(q * 100)}%": int(min(np.searchsorted(self.cumulative_ratio_, q - 1e-12) + 1, full))
            for q in (0.90, 0.95, 0.99)}
        self.embedding_ = self._map(X)
        return self

    def _map(self, X):
        return self.pca_.transform(X)[:, : self.n_components_].astype(np.float32)

    def transform(self, X):
        return self._map(_transform_input(self, X))

    def project_gaussian(self, mean, cov):
        """A Gaussian N(mean, cov) in the input space -> its image in the projected plane.

        PCA is linear (x -> W (x - m)), so the image is N(W (mean - m), W cov W^T): this is
        how a mixture fitted in the latent space is drawn as ellipses on the PCA plot.
        """
        W = self.pca_.components_[: self.n_components_]          # (k, d)
        return W @ (np.asarray(mean) - self.pca_.mean_), W @ np.asarray(cov) @ W.T


class LDAProjection(_Projection):
    """Fisher's linear discriminant analysis (study 000): at most n_classes - 1 dimensions."""

    def __init__(self, n_components=2, solver="svd"):
        self.n_components = n_components
        self.solver = solver

    def fit(self, X, y=None):
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        if y is None:   # scikit-learn's words after ours, as its estimator checks look for them
            raise InputError("LDA needs class labels (it is supervised): it requires y to be passed, "
                             "but the target y is None")
        X, y = _fit_input(self, X, y)
        k = _check_n_components("LDA", self.n_components)
        n_classes = len(np.unique(y))
        if n_classes < 2:
            raise UserError("LDA needs at least 2 classes in the labels")
        limit = min(n_classes - 1, X.shape[1])
        self.notes_ = []
        if k > limit:
            why = (f"{n_classes} classes give at most {n_classes - 1}" if n_classes - 1 <= X.shape[1]
                   else f"the features have only {X.shape[1]} dimensions")
            self.notes_.append(f"LDA asked for {k} dimensions but {why}: showing {limit}")
            k = limit
        self.n_components_ = k
        self.lda_ = LinearDiscriminantAnalysis(n_components=k, solver=self.solver).fit(X, y)
        self.explained_variance_ratio_ = getattr(self.lda_, "explained_variance_ratio_", None)
        self.embedding_ = self.lda_.transform(X).astype(np.float32)
        return self

    def transform(self, X):
        return self.lda_.transform(_transform_input(self, X)).astype(np.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True       # supervised: fit needs the class labels
        return tags


def _openTSNE_knn(knn):
    """(indices, distances) that include each point itself first -> openTSNE's, without it."""
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    idx, dist = knn
    return PrecomputedNeighbors(np.ascontiguousarray(idx[:, 1:]), np.ascontiguousarray(dist[:, 1:]))


# openTSNE's FFT-interpolated gradient barely uses a second thread (20,000 MNIST codes, 2-D:
# 41.3 s on 1 thread, 37.3 s on 2), Barnes-Hut's splits over points (93.9 s, 51.8 s: 1.81x)
# and gives the same layout on any number of threads; from 4 jobs up Barnes-Hut is the faster
# (trustworthiness 0.9894 against FFT's 0.9904, kNN accuracy 0.942 against 0.944).
TSNE_BH_MIN_JOBS = 4


def tsne_gradient(method: str, dims: int, n: int, n_jobs) -> str:
    """"fft" or "bh" for TSNEProjection's negative_gradient_method ("auto" decides here)."""
    if method != "auto":
        return method
    # FFT interpolation (1-2 D only) is O(N) per step but has a fixed grid cost that Barnes-Hut
    # beats below ~5,000 points, and it runs mostly on one thread; 3-D always needs Barnes-Hut.
    return "fft" if dims <= 2 and n > 5000 and as_threads(n_jobs) < TSNE_BH_MIN_JOBS else "bh"


class TSNEProjection(_Projection):
    """t-SNE with openTSNE (Policar et al.): FFT-interpolated gradients in 1-2 D (O(N) per
    iteration; "auto" uses Barnes-Hut below 5,000 points, where it is faster); 3-D only
    through Barnes-Hut, O(N log N) per iteration and several times slower, which
    `notes_` states with the time it took.

    knn: optional (indices, distances), (N, k) each, a point's own index first (as
    `knn_graph` returns), shared with UMAP/N2D so the graph is built once; needs
    k > 3 * perplexity. choice_jobs: the job count "auto" chooses the gradient by (default
    n_jobs; an analysis lane runs on fewer threads than the --jobs it chooses for).
    """

    _NEW_POINTS = ("t-SNE has no map of new points: transform places them against the fitted embedding by "
                   "a fresh optimisation, so transform(X) is not the embedding fit found for the same X")
    _expected_failed_checks = {"check_transformer_general": _NEW_POINTS,
                               "check_transformer_data_not_an_array": _NEW_POINTS}

    def __init__(self, n_components=2, perplexity=30.0, n_iter=500, early_exaggeration_iter=250,
                 negative_gradient_method="auto", n_jobs=1, random_state=None, knn=None, choice_jobs=None):
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_iter = n_iter
        self.early_exaggeration_iter = early_exaggeration_iter
        self.negative_gradient_method = negative_gradient_method
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.knn = knn
        self.choice_jobs = choice_jobs

    def fit(self, X, y=None):
        import openTSNE
        from openTSNE import affinity, initialization

        X = _fit_input(self, X)
        k = _check_n_components("t-SNE", self.n_components, PROJECTIONS["tsne"].limits["max_dims"])
        perplexity = float(min(self.perplexity, (len(X) - 1) / 3.0))
        method = tsne_gradient(self.negative_gradient_method, k, len(X), self.choice_jobs or self.n_jobs)
        if method == "fft" and k > 2:
            raise UserError("t-SNE with FFT gradients embeds in 1 or 2 dimensions; use Barnes-Hut ('bh') for 3")
        self.notes_ = []
        if perplexity < self.perplexity:
            self.notes_.append(f"perplexity lowered to {perplexity:.1f} for {len(X)} points")
        t0 = time.perf_counter()
        knn_index = None
        if self.knn is not None and self.knn[0].shape[0] == len(X) and self.knn[0].shape[1] > 3 * perplexity:
            knn_index = _openTSNE_knn(self.knn)
        aff = affinity.PerplexityBasedNN(
            None if knn_index is not None else X, perplexity=perplexity, n_jobs=self.n_jobs,
            random_state=self.random_state, knn_index=knn_index)
        init = initialization.pca(X, n_components=k, random_state=self.random_state)
        tsne = openTSNE.TSNE(n_components=k, n_iter=self.n_iter, early_exaggeration_iter=self.early_exaggeration_iter,
                             negative_gradient_method=method, n_jobs=self.n_jobs,
                             random_state=self.random_state)
        self.tsne_ = tsne.fit(affinities=aff, initialization=init)
        self.embedding_ = np.asarray(self.tsne_, dtype=np.float32)
        self.n_components_ = k
        self.gradient_method_ = "FFT-interpolated" if method == "fft" else "Barnes-Hut"
        self.seconds_ = time.perf_counter() - t0
        if method == "bh" and k == 3:
            self.notes_.append(f"{k}-D t-SNE uses Barnes-Hut gradients (O(N log N) per iteration): "
                               f"{self.seconds_:.0f} s for {len(X)} points")
        return self

    def transform(self, X):
        return np.asarray(self.tsne_.transform(_transform_input(self, X)), dtype=np.float32)


# UMAP's layout (stochastic gradient descent over the graph's edges) is nearly all of its time
# once the kNN graph is shared. umap-learn runs it on one thread whenever a seed is given;
# "parallel" runs the same seeded start on every thread (see _parallel_layout_umap).
UMAP_LAYOUTS = tuple(x for x in SETTINGS_UMAP_LAYOUTS if x != "auto")
UMAP_PARALLEL_MIN_JOBS = 4      # AnalysisConfig.umap_layout "auto": parallel from this many jobs


def umap_layout(choice: str, n_jobs: int) -> str:
    """AnalysisConfig.umap_layout for `n_jobs` threads: "seeded" or "parallel"."""
    if choice == "auto":
        return "parallel" if n_jobs >= UMAP_PARALLEL_MIN_JOBS else "seeded"
    return choice


class UMAPProjection(_Projection):
    """UMAP (McInnes et al.) with umap-learn; `knn` as for TSNEProjection (shared graph).

    layout: "seeded" (umap-learn with random_state: bit-reproducible, one thread) or "parallel"
    (the same seeded initialisation and per-point random states, the layout's epochs on n_jobs
    threads: lock-free updates of shared coordinates (Hogwild, Recht et al. 2011), so two fits
    differ in detail, not in quality; 1.9x on 2 threads for 70,000 codes, measured)."""

    _BATCH = ("umap-learn's transform lays out the new points together (a stochastic optimisation), "
              "so a point's image depends on the batch it comes in")
    _expected_failed_checks = {"check_methods_subset_invariance": _BATCH,
                               "check_methods_sample_order_invariance": _BATCH}

    def __init__(self, n_components=2, n_neighbors=15, min_dist=0.1, metric="euclidean",
                 n_epochs=None, n_jobs=1, random_state=None, knn=None, layout="seeded"):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_epochs = n_epochs
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.knn = knn
        self.layout = layout

    def fit(self, X, y=None):
        import warnings

        import umap

        X = _fit_input(self, X)
        k = _check_n_components("UMAP", self.n_components)
        if k >= len(X) - 1:
            raise InputError(f"UMAP cannot embed {len(X)} points in {k} dimensions; use fewer dimensions")
        n_neighbors = int(min(self.n_neighbors, len(X) - 1))
        precomputed = (None, None, None)
        if self.knn is not None and self.knn[0].shape[0] == len(X) and self.knn[0].shape[1] >= n_neighbors:
            precomputed = (np.ascontiguousarray(self.knn[0][:, :n_neighbors]),
                           np.ascontiguousarray(self.knn[1][:, :n_neighbors]), None)
        if self.layout not in UMAP_LAYOUTS:
            raise UserError(f"UMAP layout {self.layout!r}: use one of {', '.join(UMAP_LAYOUTS)}")
        self.notes_ = []
        threads = as_threads(self.n_jobs)
        cls = umap.UMAP
        if self.layout == "parallel" and threads > 1:
            cls = _parallel_layout_umap(threads)
            self.notes_.append(f"layout on {threads} threads: not bit-reproducible (--umap-layout seeded is)")
        self.umap_ = cls(n_components=k, n_neighbors=n_neighbors, min_dist=self.min_dist,
                         metric=self.metric, n_epochs=self.n_epochs, n_jobs=self.n_jobs,
                         random_state=self.random_state, precomputed_knn=precomputed)
        with warnings.catch_warnings():  # "n_jobs overridden by random_state", transform-less knn: expected
            warnings.simplefilter("ignore")
            self.embedding_ = np.asarray(self.umap_.fit_transform(X), dtype=np.float32)
        self.n_components_ = k
        return self

    def transform(self, X):
        return np.asarray(self.umap_.transform(_transform_input(self, X)), dtype=np.float32)


def _parallel_layout_umap(threads: int):
    """umap.UMAP whose layout runs on `threads` numba threads, seeded as umap-learn seeds it.

    umap-learn pins a seeded fit to one thread (n_jobs forced to 1, a serial layout); its
    `_fit_embed_data` is the documented hook for subclasses. There the seed is hidden for the
    call only (umap-learn reads "no seed" as "lay out in parallel") while the RandomState made
    from it still draws the initialisation and the per-point random states."""
    import numba
    import umap

    class ParallelLayoutUMAP(umap.UMAP):
        def _fit_embed_data(self, X, n_epochs, init, random_state, **kwargs):
            seed, before = self.random_state, numba.get_num_threads()
            self.random_state = None
            numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            try:
                return super()._fit_embed_data(X, n_epochs, init, random_state, **kwargs)
            finally:
                self.random_state = seed
                numba.set_num_threads(before)

    return ParallelLayoutUMAP


def make_projection(method, n_components=2, random_state=None, n_jobs=1, knn=None, backend="cpu",
                    umap_layout="seeded", choice_jobs=None, **params):
    """A projection estimator by its name in `registry.PROJECTIONS`, or `method` itself if it is
    already an estimator; random_state, n_jobs, knn, umap_layout (UMAPProjection's `layout`) and
    choice_jobs go to the classes that take them; backend "torch" picks the entry's torch class
    where it has one (estimators/backends.py)."""
    return build(PROJECTIONS, method, dict(n_components=n_components, **params),
                 dict(random_state=random_state, n_jobs=n_jobs, knn=knn, layout=umap_layout,
                      choice_jobs=choice_jobs), backend=backend)


# Above this many points the CPU graph of low-dimensional codes switches from the exact KD-tree
# (whose cost grew as N^1.77 from 10k to 300k 16-d codes) to nearest-neighbour descent, which
# grows about as N log N. 100,000 keeps every MNIST-sized run (70,000 codes) on the exact graph.
def projection_quality(X_high, embedding, y, is_train, n_neighbors: int = 5, max_samples: int = 5000,
                       random_state=0, n_jobs: int = 1) -> dict:
    """How well a projection keeps classes apart and neighbourhoods intact, as numbers.

    knn_accuracy:    a k-NN classifier fitted on the train rows of the embedding, scored
                     on its test rows (a class-separation figure a reader can compare)
    silhouette:      scikit-learn's silhouette score of the classes in the embedding
    trustworthiness: Venna & Kaski; are embedding neighbours true neighbours in X_high?
    All on at most `max_samples` seeded points (trustworthiness is O(N^2) in memory);
    `n_points` and `subsampled` say which.
    """
    from sklearn.manifold import trustworthiness
    from sklearn.metrics import silhouette_score
    from sklearn.neighbors import KNeighborsClassifier

    X_high = np.asarray(flatten_images(X_high), dtype=np.float32)
    embedding = np.asarray(embedding, dtype=np.float32)
    y = np.asarray(y)
    is_train = np.asarray(is_train, dtype=bool)
    n = len(y)
    rng = np.random.default_rng(random_state)
    idx = np.sort(rng.choice(n, size=max_samples, replace=False)) if n > max_samples else np.arange(n)
    E, Xh, yy, tr = embedding[idx], X_high[idx], y[idx], is_train[idx]
    out = {"n_points": int(len(idx)), "subsampled": bool(len(idx) < n), "n_neighbors": n_neighbors}
    if tr.any() and (~tr).any():
        knn = KNeighborsClassifier(n_neighbors=min(n_neighbors, int(tr.sum())), n_jobs=n_jobs).fit(E[tr], yy[tr])
        out["knn_accuracy"] = float(knn.score(E[~tr], yy[~tr]))
    else:
        out["knn_accuracy"] = None
    out["silhouette"] = float(silhouette_score(E, yy)) if len(np.unique(yy)) > 1 else None
    out["trustworthiness"] = float(trustworthiness(Xh, E, n_neighbors=min(n_neighbors, len(idx) // 2 - 1)))
    return out
