"""Probes: SVM / logistic regression / kNN in a scaling pipeline; Nystroem above a size."""

import numpy as np
import pytest
from sklearn.base import clone

from latentatlas.errors import UserError
from latentatlas.latent.probe import LatentProbe, evaluate_probe


def blobs(n=600, d=8, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(k, d)) * rng.uniform(0.5, 20, size=d)  # features on unlike scales
    y = np.arange(n) % k
    return (centers[y] + rng.normal(0, 1, size=(n, d)) * rng.uniform(0.5, 20, size=d)).astype(np.float32), y


@pytest.mark.parametrize("method", ["svm", "logreg", "knn"])
def test_probes_score_separable_codes(method):
    X, y = blobs()
    probe = LatentProbe(method, random_state=0).fit(X[:400], y[:400])
    scores = evaluate_probe(probe, X[400:], y[400:], ["a", "b", "c", "d"])
    assert scores["accuracy"] > 0.95
    assert set(scores["per_class"]) == {"a", "b", "c", "d"}
    cm = np.asarray(scores["confusion_matrix"])
    assert cm.shape == (4, 4) and cm.sum() == 200 and np.trace(cm) == round(scores["accuracy"] * 200)
    for key in ("precision", "recall", "f1"):
        assert 0.95 < scores[key] <= 1.0
    assert probe.pipeline_.steps[0][0] == "standardscaler"   # scaled inside the pipeline


def test_svm_auto_switches_to_nystroem_above_the_threshold():
    X, y = blobs(600)
    exact = LatentProbe("svm", exact_max_samples=1000, random_state=0).fit(X, y)
    approx = LatentProbe("svm", exact_max_samples=100, n_nystroem=200, random_state=0).fit(X, y)
    assert exact.solver_.startswith("exact RBF SVC")
    assert approx.solver_.startswith("Nystroem") and "600 training codes > 100" in approx.solver_
    assert (approx.predict(X) == y).mean() > 0.95
    forced = LatentProbe("svm", svm_solver="nystroem", n_nystroem=100, random_state=0).fit(X, y)
    assert forced.solver_.startswith("Nystroem")


def test_probe_follows_the_estimator_contract():
    probe = LatentProbe("svm", C=3.0, random_state=7)
    assert probe.get_params()["C"] == 3.0 and probe.get_params()["random_state"] == 7
    twin = clone(probe)
    assert twin.get_params() == probe.get_params()
    assert not hasattr(twin, "pipeline_")


def test_bad_probe_choices_are_user_errors():
    X, y = blobs()
    with pytest.raises(UserError, match="unknown probe"):
        LatentProbe("forest").fit(X, y)
    with pytest.raises(UserError, match="svm_solver"):
        LatentProbe("svm", svm_solver="fast").fit(X, y)
    with pytest.raises(UserError, match="2 classes"):
        LatentProbe("knn").fit(X, np.zeros(len(X), int))
