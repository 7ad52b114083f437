"""The analysis in torch: a GPU where torch sees one, else the CPU (so the tests run it here).

    (the exact torch kNN graph lives in estimators.neighbors)
    TorchTSNE          TorchDR's t-SNE, exact repulsion: NOT registered as t-SNE's torch backend
                       (trustworthiness 0.03 below openTSNE's on 2,000 16-d codes; openTSNE stays)
    TorchUMAP          TorchDR's UMAP (same graph weights and cross-entropy as McInnes et al.)
    TorchKMeans        Lloyd's k-means with k-means++ seeding, n_init restarts
    LogRegTorchProbe   multinomial logistic regression, scikit-learn's objective, L-BFGS
    KNNTorchProbe      k-nearest-neighbour vote with the exact torch search

Each follows scikit-learn's estimator contract like the CPU classes (parameters stored in
`__init__`, work in `fit`) and says what computed it in `backend_` ("torch (cuda)").
What stays on the CPU libraries, and why: the exact RBF SVM (no maintained torch libsvm;
cuML's SVC needs RAPIDS, which nothing here can test) and the Gaussian mixture and N2D's
mixture (scikit-learn's EM on <= 70,000 16-d codes is seconds; a torch EM would need its
own tests of full-covariance numerics for little gain).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, ClusterMixin

from ..runtime import choose_device
from .backends import backend_label
from .neighbors import _BLOCK_ELEMENTS
from .base import validate
from .probe import KNNProbe, LogRegProbe
from .project import _Projection

# TorchDR without KeOps/FAISS holds N x N float32 matrices: 100,000 points = 40 GB each on the GPU.
DENSE_MAX_POINTS = 100_000
# (block rows) x N distances per step: 2,048 x 1M float32 = 8 GB at most, less for fewer points.


def _label(dev, library: str = "torch") -> str:
    return f"{library} ({dev.type})"


class _TorchDR:
    """Shared fit of the TorchDR projections (the CPU classes' parameters, TorchDR's method)."""

    def _fit_torchdr(self, X, method):
        import torch

        from ..registry import PROJECTIONS
        from .project import _check_n_components, _fit_input

        X = _fit_input(self, X)
        k = _check_n_components(type(self).__name__, self.n_components, PROJECTIONS["tsne"].limits["max_dims"])
        dev = choose_device(self.device)
        self.fit_points_ = X                                     # (N, d): transform places new points by them
        if len(X) > DENSE_MAX_POINTS:
            return self._fit_on_cpu(X, k)
        if self.random_state is not None:
            torch.manual_seed(int(self.random_state))
        self.notes_ = []
        est = method(k, dev, len(X))
        emb = est.fit_transform(torch.as_tensor(X, device=dev))
        self.embedding_ = np.asarray(emb.detach().cpu().numpy() if hasattr(emb, "detach") else emb, np.float32)
        self.n_components_ = k
        self.backend_ = _label(dev, "TorchDR")
        return self

    def _fit_on_cpu(self, X, k):
        """Above DENSE_MAX_POINTS TorchDR's dense N x N matrices would not fit (300,000 points: 360 GB):
        the CPU library instead (O(N log N) memory), and a note saying so."""
        from .project import TSNEProjection, UMAPProjection

        cls = TSNEProjection if isinstance(self, TorchTSNE) else UMAPProjection
        params = {p: getattr(self, p) for p in cls._get_param_names() if hasattr(self, p)}
        cpu = cls(**{**params, "n_components": k}).fit(X)
        self.embedding_, self.n_components_ = cpu.embedding_, k
        self.notes_ = list(cpu.notes_) + [
            (f"{len(X):,} points > {DENSE_MAX_POINTS:,}: fitted by the CPU library (TorchDR's exact method "
             "holds N x N matrices)")]
        self.backend_ = backend_label(cpu)
        self.cpu_ = cpu
        return self

    def transform(self, X):
        """New points at the distance-weighted mean of their 10 nearest fitted points' images
        (openTSNE's starting place for new points; TorchDR has no map of new points)."""
        from .project import _transform_input

        X = _transform_input(self, X)
        import torch

        ref = torch.as_tensor(self.fit_points_)                                      # (N, d)
        emb = torch.as_tensor(self.embedding_)                                       # (N, k)
        out = []
        for start in range(0, len(X), 4096):                                         # (b, N) distances a block
            d, nbrs = torch.cdist(torch.as_tensor(X[start: start + 4096]), ref).topk(min(10, len(ref)), largest=False)
            w = 1.0 / (d + 1e-12)                                                    # (b, 10)
            out.append(((w[..., None] * emb[nbrs]).sum(1) / w.sum(1, keepdim=True)).numpy())
        return np.concatenate(out).astype(np.float32) if out else np.empty((0, self.n_components_), np.float32)


class TorchTSNE(_TorchDR, _Projection):
    """t-SNE with TorchDR: the openTSNE schedule (250 early-exaggeration steps, then n_iter),
    exact O(N^2) repulsion per step, which is what a GPU does fast up to ~50,000 points
    (tsne_max_samples keeps the default at 20,000). `knn` is accepted and ignored: TorchDR
    builds its own perplexity affinities."""

    def __init__(self, n_components=2, perplexity=30.0, n_iter=500, early_exaggeration_iter=250, random_state=None,
                 device=None, knn=None, n_jobs=1):
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_iter = n_iter
        self.early_exaggeration_iter = early_exaggeration_iter
        self.random_state = random_state
        self.device = device
        self.knn = knn
        self.n_jobs = n_jobs              # CPU threads of the fallback above DENSE_MAX_POINTS

    def fit(self, X, y=None):
        import torchdr

        def method(k, dev, n):
            perplexity = float(min(self.perplexity, (n - 1) / 3.0))
            return torchdr.TSNE(n_components=k, perplexity=perplexity, device=str(dev), backend=None,
                                max_iter=self.n_iter + self.early_exaggeration_iter,
                                early_exaggeration_iter=self.early_exaggeration_iter,
                                random_state=self.random_state, verbose=False)

        self._fit_torchdr(X, method)
        self.gradient_method_ = "exact (TorchDR)"
        return self


class TorchUMAP(_TorchDR, _Projection):
    """UMAP with TorchDR: umap-learn's fuzzy kNN graph, a and b from min_dist, negative sampling;
    it differs in the optimiser (torch SGD with a linear schedule) and a PCA start."""

    def __init__(self, n_components=2, n_neighbors=15, min_dist=0.1, n_epochs=None, random_state=None,
                 device=None, knn=None, n_jobs=1):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.n_epochs = n_epochs
        self.random_state = random_state
        self.device = device
        self.knn = knn
        self.n_jobs = n_jobs              # CPU threads of the fallback above DENSE_MAX_POINTS

    def fit(self, X, y=None):
        import torchdr

        def method(k, dev, n):
            return torchdr.UMAP(n_components=k, n_neighbors=int(min(self.n_neighbors, n - 2)), min_dist=self.min_dist,
                                device=str(dev), backend=None, max_iter=self.n_epochs or 1000,
                                random_state=self.random_state, verbose=False)

        return self._fit_torchdr(X, method)


def _kmeans_pp(X, k: int, gen):
    """k-means++ seeding (Arthur & Vassilvitskii 2007): each next centre drawn by squared distance."""
    import torch

    n = len(X)
    centres = X[torch.randint(n, (1,), generator=gen, device="cpu").to(X.device)]          # (1, d)
    d2 = torch.cdist(X, centres).squeeze(1) ** 2                                           # (N,)
    for _ in range(1, k):
        p = (d2 / d2.sum().clamp_min(1e-30)).double().cpu()
        nxt = X[torch.multinomial(p, 1, generator=gen).to(X.device)]
        centres = torch.cat([centres, nxt])
        d2 = torch.minimum(d2, (torch.cdist(X, nxt).squeeze(1) ** 2))
    return centres


def _lloyd(X, centres, max_iter: int, tol: float):
    """Lloyd iterations to convergence: (centres (k, d), labels (N,), inertia, iterations)."""
    import torch

    var = X.var(0).mean()
    it = 0
    for it in range(1, max_iter + 1):
        labels = torch.cdist(X, centres).argmin(1)                                          # (N,)
        sums = torch.zeros_like(centres).index_add_(0, labels, X)
        counts = torch.bincount(labels, minlength=len(centres)).clamp_min(1).unsqueeze(1)
        new = torch.where(counts > 0, sums / counts, centres)
        shift = ((new - centres) ** 2).sum()
        centres = new
        if shift <= tol * var:
            break
    d = torch.cdist(X, centres)
    labels = d.argmin(1)
    return centres, labels, float((d.min(1).values ** 2).sum()), it


class TorchKMeans(ClusterMixin, BaseEstimator):
    """k-means in torch (k-means++ seeds, Lloyd), the best of n_init runs by inertia, as
    scikit-learn's KMeans; fitted: cluster_centers_, labels_, inertia_, backend_."""

    def __init__(self, n_clusters=10, n_init=1, max_iter=300, tol=1e-4, random_state=None, device=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.device = device

    def fit(self, X, y=None):
        import torch

        from .cluster import _fit_input

        X, k = _fit_input(self, X)
        dev = choose_device(self.device)
        Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
        gen = torch.Generator().manual_seed(int(self.random_state or 0))
        best = None
        for _ in range(int(self.n_init)):
            run = _lloyd(Xt, _kmeans_pp(Xt, k, gen), int(self.max_iter), float(self.tol))
            if best is None or run[2] < best[2]:
                best = run
        self.cluster_centers_ = best[0].cpu().numpy()
        self.labels_ = best[1].cpu().numpy()
        self.inertia_ = best[2]
        self.n_iter_ = best[3]                                   # Lloyd iterations of the best run
        self.backend_ = _label(dev)
        return self

    def predict(self, X):
        import torch
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = validate(self, X, reset=False, dtype=[np.float64, np.float32], what="clustering")
        C = torch.as_tensor(self.cluster_centers_, dtype=torch.float32)
        return torch.cdist(torch.as_tensor(X, dtype=torch.float32), C).argmin(1).numpy()


class TorchLogisticRegression(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression with scikit-learn's objective (C * summed log-loss +
    |W|^2 / 2, intercept unpenalised), minimised by torch's L-BFGS in float64."""

    def __init__(self, C=1.0, max_iter=2000, device=None):
        self.C = C
        self.max_iter = max_iter
        self.device = device

    def fit(self, X, y):
        import torch

        X, y = validate(self, X, y, dtype=[np.float64, np.float32], what="logistic regression")
        self.classes_, yi = np.unique(y, return_inverse=True)
        dev = choose_device(self.device)
        Xt = torch.as_tensor(X, dtype=torch.float64, device=dev)
        yt = torch.as_tensor(yi, device=dev)
        W = torch.zeros(X.shape[1], len(self.classes_), dtype=torch.float64, device=dev, requires_grad=True)
        b = torch.zeros(len(self.classes_), dtype=torch.float64, device=dev, requires_grad=True)
        opt = torch.optim.LBFGS([W, b], max_iter=int(self.max_iter), tolerance_grad=1e-6, tolerance_change=1e-10,
                                history_size=20, line_search_fn="strong_wolfe")
        scale = 1.0 / (float(self.C) * len(X))        # the objective divided by C * N: same minimum

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(Xt @ W + b, yt) + 0.5 * scale * (W * W).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.coef_ = W.detach().cpu().numpy().T                                     # (classes, d)
        self.intercept_ = b.detach().cpu().numpy()
        self.n_iter_ = np.array([opt.state[opt._params[0]].get("n_iter", 0)])
        self.backend_ = _label(dev)
        return self

    def decision_function(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = validate(self, X, reset=False, dtype=[np.float64, np.float32], what="logistic regression")
        return X @ self.coef_.T + self.intercept_

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


class TorchKNeighborsClassifier(ClassifierMixin, BaseEstimator):
    """k-nearest-neighbour majority vote (ties to the nearest neighbour's order, as scikit-learn's
    uniform weights break them by the lowest class) with the exact torch search."""

    def __init__(self, n_neighbors=5, device=None):
        self.n_neighbors = n_neighbors
        self.device = device

    def fit(self, X, y):
        X, y = validate(self, X, y, dtype=np.float32, what="kNN probe")
        self.classes_, self._y = np.unique(y, return_inverse=True)
        self._X = X
        self.backend_ = _label(choose_device(self.device))
        return self

    def predict(self, X):
        import torch
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = validate(self, X, reset=False, dtype=np.float32, what="kNN probe")
        dev = choose_device(self.device)
        ref = torch.as_tensor(self._X, device=dev)
        k = int(min(self.n_neighbors, len(ref)))
        block = max(1, _BLOCK_ELEMENTS // max(len(ref), 1) // 4)
        votes = []
        for start in range(0, len(X), block):
            q = torch.as_tensor(X[start: start + block], device=dev)
            nn = torch.cdist(q, ref).topk(k, dim=1, largest=False).indices.cpu().numpy()   # (b, k)
            counts = np.zeros((len(q), len(self.classes_)), np.int64)
            np.add.at(counts, (np.arange(len(q))[:, None], self._y[nn]), 1)
            votes.append(counts.argmax(1))                          # argmax: lowest class on ties, as sklearn
        return self.classes_[np.concatenate(votes)] if votes else self.classes_[:0]


def _probe_pipeline(model, words):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), model), words


class LogRegTorchProbe(LogRegProbe):
    """The logistic-regression probe computed in torch (TorchLogisticRegression): same checks,
    standardising and scoring as LogRegProbe."""

    def __init__(self, C=1.0, max_iter=2000, device=None):
        self.C = C
        self.max_iter = max_iter
        self.device = device

    def _pipeline(self, n_samples: int, n_features: int):
        model = TorchLogisticRegression(C=self.C, max_iter=self.max_iter, device=self.device)
        return _probe_pipeline(model, "logistic regression (torch L-BFGS, multinomial)")

    def fit(self, X, y):
        super().fit(X, y)
        self.backend_ = self.pipeline_[-1].backend_
        return self


class KNNTorchProbe(KNNProbe):
    """The kNN probe with the exact torch search (TorchKNeighborsClassifier)."""

    def __init__(self, n_neighbors=5, device=None):
        self.n_neighbors = n_neighbors
        self.device = device

    def _pipeline(self, n_samples: int, n_features: int):
        return _probe_pipeline(TorchKNeighborsClassifier(self.n_neighbors, device=self.device),
                               f"{self.n_neighbors}-nearest neighbours (euclidean, exact torch search)")

    def fit(self, X, y):
        super().fit(X, y)
        self.backend_ = self.pipeline_[-1].backend_
        return self
