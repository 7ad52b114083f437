"""The CPU kNN graph: exact KD-tree up to knn_exact_max_samples codes, nearest-neighbour
descent (pynndescent, umap-learn's recipe) above, and metrics.json saying which (issue 14, item 5).
Thresholds are set small through arguments, so the switch is tested by size, not by timing."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from latentatlas.errors import UserError
from latentatlas.estimators import neighbors as project
from latentatlas.estimators.neighbors import KNN_EXACT_MAX, graph_label, graph_method, knn_graph


def _codes(n=1500, d=16, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 1.0, (10, d))
    y = rng.integers(0, 10, n)
    return (means[y] + rng.standard_normal((n, d))).astype(np.float32), y


def test_the_rule_exact_up_to_the_threshold_descent_above():
    assert graph_method(100, 16, 100) == "exact"
    assert graph_method(101, 16, 100) == "nndescent"
    assert graph_method(10 ** 6, 16, 0) == "exact"             # 0: always exact
    assert graph_method(10 ** 6, 16, None) == "exact"
    assert graph_method(6000, 784, 10 ** 6) == "nndescent-highdim"   # raw pixels: as before
    assert graph_method(70000, 10) == "exact" and KNN_EXACT_MAX >= 70000   # MNIST-sized runs keep their figures
    assert graph_method(300000, 16) == "nndescent"


def test_above_the_threshold_the_graph_is_approximate_and_close_to_exact(monkeypatch):
    calls = []
    real = project._nndescent_umap
    monkeypatch.setattr(project, "_nndescent_umap", lambda *a, **k: calls.append(len(a[0])) or real(*a, **k))
    X, _ = _codes()
    idx_e, dist_e = knn_graph(X, 10, random_state=0)              # 1,500 <= 100,000: exact
    assert calls == []
    idx_a, dist_a = knn_graph(X, 10, random_state=0, exact_max_samples=1000)
    assert calls == [1500]
    assert idx_a.shape == idx_e.shape == (1500, 10) and idx_a.dtype == np.int64 and dist_a.dtype == np.float32
    assert (idx_a[:, 0] == np.arange(1500)).all() and (dist_a[:, 0] == 0).all()
    recall = np.mean([len(np.intersect1d(a, e)) / 10 for a, e in zip(idx_a, idx_e)])
    assert recall >= 0.95
    assert recall < 1.0 or not np.array_equal(dist_a, dist_e)     # it is pynndescent's graph, not a copy
    from sklearn.neighbors import NearestNeighbors

    d_ref, i_ref = NearestNeighbors(n_neighbors=10).fit(X).kneighbors(X)
    np.testing.assert_array_equal(idx_e[:, 1:], i_ref[:, 1:])     # below the threshold: unchanged


def test_graph_label_names_the_graph_each_size_got():
    assert graph_label("cpu", 10, 70000, KNN_EXACT_MAX) == "scikit-learn exact (cpu)"
    label = graph_label("cpu", 16, 300000, 100000)
    assert label.startswith("pynndescent approximate (cpu)") and "300,000" in label and "100,000" in label
    assert graph_label("cpu", 16, 300000, 0) == "scikit-learn exact (cpu)"


def test_a_negative_threshold_is_one_clear_error():
    from latentatlas.settings import AnalysisConfig

    with pytest.raises(UserError, match="knn_exact_max_samples must be >= 0"):
        AnalysisConfig(knn_exact_max_samples=-1)


def test_analyze_records_the_approximate_graph_above_the_threshold(tiny_runs, tmp_path):
    from latentatlas.stages.analyze import analyze_run
    from latentatlas.settings import AnalysisConfig

    run = tmp_path / "vae"
    shutil.copytree(tiny_runs["vae"], run)
    cfg = AnalysisConfig(projections=["umap:2"], probes=[], clusterers=["n2d"], raw_baseline=False,
                         interactive=False, projection_max_samples=None, quality_max_samples=300, n_jobs=1,
                         backend="cpu", knn_exact_max_samples=50)
    analyze_run(run, cfg, verbose=False)
    m = json.loads((run / "metrics.json").read_text())
    n = m["projections"]["fit_points"]
    assert n > 50
    assert m["projections"]["knn_graph_backend"] == graph_label("cpu", m["projections"]["latent_dim"], n, 50)
    assert m["projections"]["knn_graph_backend"].startswith("pynndescent approximate (cpu)")
    assert m["clustering"]["n2d"]["knn_graph_backend"].startswith("pynndescent approximate (cpu)")


def test_the_knn_probe_searches_approximately_above_the_threshold_within_0_01():
    from latentatlas.estimators.backends import backend_label
    from latentatlas.estimators.probe import make_probe

    X, y = _codes(3000)
    tr = np.arange(3000) < 2500
    exact = make_probe("knn", knn_exact_max_samples=100000, n_jobs=1).fit(X[tr], y[tr])
    approx = make_probe("knn", knn_exact_max_samples=1000, n_jobs=1, random_state=0).fit(X[tr], y[tr])
    assert "approximate" not in exact.solver_ and backend_label(exact) == "scikit-learn (cpu)"
    assert "approximate: pynndescent" in approx.solver_ and "2500 training codes > 1000" in approx.solver_
    assert backend_label(approx) == "pynndescent (cpu)"
    a_exact, a_approx = exact.score(X[~tr], y[~tr]), approx.score(X[~tr], y[~tr])
    assert 0.3 < a_exact < 0.95                                    # codes a probe neither fails nor aces
    assert abs(a_exact - a_approx) <= 0.01
    assert list(approx.classes_) == list(range(10))


def test_the_nystroem_svm_learns_from_a_seeded_subsample_above_its_cap():
    # liblinear's copy of the kernel map is what put 1M codes over 16 GB; the cap bounds it.
    from latentatlas.estimators.probe import SVMProbe

    X, y = _codes(900)
    full = SVMProbe(exact_max_samples=100, n_nystroem=100, random_state=0).fit(X, y)
    capped = SVMProbe(exact_max_samples=100, n_nystroem=100, nystroem_max_samples=600, random_state=0).fit(X, y)
    assert "subsample" not in full.solver_
    assert capped.solver_.endswith("fitted on a seeded subsample of 600 of 900 training codes")
    assert abs(full.score(X, y) - capped.score(X, y)) < 0.1 and list(capped.classes_) == list(range(10))
    exact = SVMProbe(exact_max_samples=1000, nystroem_max_samples=600, random_state=0).fit(X, y)
    assert "subsample" not in exact.solver_                      # the exact SVC is never subsampled
