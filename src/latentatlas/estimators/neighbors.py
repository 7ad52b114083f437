"""The kNN graph of the codes: built once, shared by t-SNE, UMAP and N2D (the costliest
common step), and the one place that decides how it is built.

    knn_graph(X, k, backend=...) -> (indices, distances)   (N, k) each, every point first in its row
    graph_method(n, d)   the CPU rule: exact (scikit-learn) or approximate (pynndescent)
    graph_label(...)     what metrics.json and the report say built it
"""

from __future__ import annotations

import numpy as np

from ..runtime import choose_device
from .base import flatten_images

_BLOCK_ELEMENTS = 2 ** 31

KNN_EXACT_MAX = 100_000


def graph_method(n_points: int, n_features: int, exact_max_samples: int | None = KNN_EXACT_MAX) -> str:
    """How the CPU backend builds the kNN graph of `n_points` codes: "exact" (scikit-learn's KD-tree),
    "nndescent" (pynndescent, umap-learn's settings: low-dimensional codes above `exact_max_samples`;
    None or 0 = always exact), or "nndescent-highdim" (pynndescent's defaults, over 16-d and 5,000 points)."""
    if n_features > 16 and n_points > 5000:
        return "nndescent-highdim"
    if exact_max_samples and n_points > exact_max_samples:
        return "nndescent"
    return "exact"


def _nndescent_umap(X, k: int, random_state, n_jobs: int):
    """umap-learn's own recipe (umap_.nearest_neighbors): trees and iterations grow with N."""
    from pynndescent import NNDescent

    n = len(X)
    index = NNDescent(X, n_neighbors=k, random_state=random_state, n_jobs=n_jobs,
                      n_trees=min(64, 5 + int(round(n ** 0.5 / 20.0))), n_iters=max(5, int(round(np.log2(n)))),
                      max_candidates=60, low_memory=True, compressed=False)
    return index.neighbor_graph


def knn_graph(X, n_neighbors: int, random_state=None, n_jobs: int = 1, backend: str = "cpu",
              exact_max_samples: int | None = KNN_EXACT_MAX):
    """(indices, distances), (N, k) each, every point first in its own row.

    backend "torch": exact search in torch (a GPU where there is one).

    Built once and shared by t-SNE, UMAP and N2D (the costliest common step). On the CPU
    (`graph_method` says which): exact (scikit-learn, a KD-tree) for low-dimensional codes up
    to `exact_max_samples` points; above that, and for high-dimensional points over 5,000,
    approximate nearest-neighbour descent (pynndescent, as umap-learn).
    """
    X = np.asarray(flatten_images(X), dtype=np.float32)
    k = int(min(n_neighbors, len(X)))
    if backend == "torch":
        return _torch_knn_graph(X, k)
    method = graph_method(len(X), X.shape[1], exact_max_samples)
    if method == "exact":
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=k, n_jobs=n_jobs).fit(X)
        dist, idx = nn.kneighbors(X)
    elif method == "nndescent":
        idx, dist = _nndescent_umap(X, k, random_state, n_jobs)
    else:
        from pynndescent import NNDescent

        index = NNDescent(X, n_neighbors=k, random_state=random_state, n_jobs=n_jobs,
                          low_memory=True, compressed=True)
        idx, dist = index.neighbor_graph
    # Duplicate points can push a point out of its own first slot; put it back.
    idx = np.asarray(idx, dtype=np.int64)
    dist = np.asarray(dist, dtype=np.float32)
    own = idx[:, 0] != np.arange(len(X))
    if own.any():
        idx[own, 0] = np.flatnonzero(own)
        dist[own, 0] = 0.0
    return idx, dist


def _torch_knn_graph(X, n_neighbors: int, device=None):
    """(indices, distances), (N, k) each as `knn_graph`: exact, every point first in its row.

    Blocks of query rows against all points (torch.cdist), topk per block: memory
    O(block * N), time O(N^2 d) flops, which a GPU does at about 1M x 1M x 16 in seconds.
    """
    import torch

    dev = choose_device(device)
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=dev)       # (N, d)
    n = len(Xt)
    k = int(min(n_neighbors, n))
    block = max(1, min(n, _BLOCK_ELEMENTS // max(n, 1) // 4))
    idx = np.empty((n, k), np.int64)
    dist = np.empty((n, k), np.float32)
    sq = (Xt * Xt).sum(1)                                                              # (N,)
    for start in range(0, n, block):
        q = Xt[start: start + block]                                                   # (b, d)
        # |q - x|^2 = |q|^2 - 2 q.x + |x|^2: one matmul per block (cdist's own route for large d)
        d2 = sq[start: start + block, None] - 2.0 * (q @ Xt.T) + sq[None, :]             # (b, N)
        rows = torch.arange(start, start + len(q), device=dev)
        d2[torch.arange(len(q), device=dev), rows] = -1.0        # each point first in its own row
        val, ind = torch.topk(d2, k, dim=1, largest=False)                              # sorted ascending
        idx[start: start + len(q)] = ind.cpu().numpy()
        dist[start: start + len(q)] = val.clamp_min_(0).sqrt_().cpu().numpy()
    return idx, dist


def graph_label(backend: str, n_features: int, n_points: int | None = None, exact_max_samples=None) -> str:
    """What builds the shared kNN graph on `backend` (`graph_method`'s rule on the CPU); without
    `n_points`, the rule for any size."""
    if backend == "torch":
        return f"torch exact ({choose_device().type})"
    limit = KNN_EXACT_MAX if exact_max_samples is None else exact_max_samples
    if n_points is None:
        return ("scikit-learn exact (cpu)" + (f" up to {limit:,} points, pynndescent approximate above" if limit else "")
                if n_features <= 16 else "pynndescent approximate (cpu) above 5,000 points")
    method = graph_method(n_points, n_features, limit)
    if method == "exact":
        return "scikit-learn exact (cpu)"
    if method == "nndescent":
        return f"pynndescent approximate (cpu): {n_points:,} points, above the exact graph's {limit:,}"
    return "pynndescent approximate (cpu) above 5,000 points"
