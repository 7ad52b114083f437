"""The same codes through the CPU libraries and the torch backend: time and quality side by side.

Used by benchmarks/gpu_check_analysis.py (on a GPU) and by tests/test_backends.py (on the CPU),
which hold the torch figures to the CPU ones within 0.01 (issue 14): trustworthiness and
kNN accuracy of t-SNE and UMAP (`project.projection_quality`, on the same points), k-means
cluster accuracy (Hungarian-matched), and the logistic-regression and kNN probe accuracies.
"""

from __future__ import annotations

import time

import numpy as np

STEPS = ("knn graph", "tsne", "umap", "kmeans", "logreg", "knn probe")


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def _projection(method, X, y, tr, backend, seed, n_jobs, quality_max):
    from .project import make_projection, projection_quality

    est, s = _timed(make_projection(method, 2, random_state=seed, n_jobs=n_jobs, backend=backend).fit, X, y)
    q = projection_quality(X, est.embedding_, y, tr, max_samples=quality_max, random_state=seed, n_jobs=n_jobs)
    return s, {"trustworthiness": q["trustworthiness"], "knn_accuracy": q["knn_accuracy"]}


def _one(step, backend, X, y, tr, seed, n_jobs, quality_max):
    """(seconds, {figure: value}) of one step on one backend."""
    from .cluster import cluster_accuracy, make_clusterer
    from .probe import make_probe
    from .neighbors import knn_graph

    if step == "knn graph":
        (idx, _), s = _timed(knn_graph, X, 15, random_state=seed, n_jobs=n_jobs, backend=backend)
        return s, {"neighbours": idx}
    if step in ("tsne", "umap"):
        return _projection(step, X, y, tr, backend, seed, n_jobs, quality_max)
    if step == "kmeans":
        est, s = _timed(make_clusterer("kmeans", len(np.unique(y)), random_state=seed, n_init=5,
                                       backend=backend).fit, X)
        return s, {"cluster_accuracy": cluster_accuracy(y, est.labels_)[0]}
    name = "knn" if step == "knn probe" else step
    probe, s = _timed(make_probe(name, random_state=seed, n_jobs=n_jobs, backend=backend).fit, X[tr], y[tr])
    return s, {"accuracy": float(probe.score(X[~tr], y[~tr]))}


def compare(X, y, is_train, steps=STEPS, seed: int = 0, n_jobs: int = 1, quality_max: int = 5000) -> list[dict]:
    """One row per (step, figure): cpu and torch seconds and values, and their difference."""
    from ..runtime import choose_device

    X = np.ascontiguousarray(X, dtype=np.float32)
    y, tr = np.asarray(y), np.asarray(is_train, dtype=bool)
    rows = []
    for step in steps:
        s_cpu, f_cpu = _one(step, "cpu", X, y, tr, seed, n_jobs, quality_max)
        if not has_torch_backend(step):     # the CPU library computes it on both: run it once
            rows += [{"step": step, "figure": figure, "n": len(X), "cpu_s": s_cpu, "torch_s": None,
                      "torch_device": "cpu library (no torch backend)", "cpu": v, "torch": None, "diff": None}
                     for figure, v in f_cpu.items()]
            continue
        s_torch, f_torch = _one(step, "torch", X, y, tr, seed, n_jobs, quality_max)
        if step == "knn graph":   # exact on both: the share of identical neighbour lists' members
            same = float(np.mean(np.sort(f_cpu["neighbours"], 1) == np.sort(f_torch["neighbours"], 1)))
            f_cpu, f_torch = {"neighbours agreeing": 1.0}, {"neighbours agreeing": same}
        for figure in f_cpu:
            rows.append({"step": step, "figure": figure, "n": len(X), "cpu_s": s_cpu, "torch_s": s_torch,
                         "torch_device": choose_device().type, "cpu": f_cpu[figure], "torch": f_torch[figure],
                         "diff": f_torch[figure] - f_cpu[figure]})
    return rows


def has_torch_backend(step: str) -> bool:
    """Whether `--backend torch` computes this step in torch (else its CPU library does)."""
    from ..registry import CLUSTERERS, PROBES, PROJECTIONS
    from .backends import entry_class

    if step == "knn graph":
        return True
    name = "knn" if step == "knn probe" else step
    registry = next(r for r in (PROJECTIONS, PROBES, CLUSTERERS) if name in r)
    return entry_class(registry, name, "torch") is not registry[name].cls


def format_rows(rows: list[dict]) -> str:
    lines = [(f"{'step':<10s} {'n':>8s} {'figure':<20s} {'cpu s':>8s} {'torch s':>8s} {'speed-up':>8s} "
              f"{'cpu':>7s} {'torch':>7s} {'diff':>7s} within 0.01")]
    for r in rows:
        if r["torch"] is None:
            lines.append(f"{r['step']:<10s} {r['n']:>8,d} {r['figure']:<20s} {r['cpu_s']:>8.2f} {'-':>8s} "
                         f"{'-':>8s} {r['cpu']:>7.4f} {'-':>7s} {'-':>7s} no torch backend: its CPU library")
            continue
        lines.append(f"{r['step']:<10s} {r['n']:>8,d} {r['figure']:<20s} {r['cpu_s']:>8.2f} {r['torch_s']:>8.2f} "
                     f"{r['cpu_s'] / max(r['torch_s'], 1e-9):>7.1f}x {r['cpu']:>7.4f} {r['torch']:>7.4f} "
                     f"{r['diff']:>+7.4f} {'yes' if abs(r['diff']) <= 0.01 else 'NO'}")
    return "\n".join(lines)
