"""Probes: SVM / logistic regression / kNN in a scaling pipeline; Nystroem above a size."""

import numpy as np
import pytest
from sklearn.base import clone

from latentatlas.errors import UserError
from latentatlas.latent.probe import KNNProbe, LogRegProbe, SVMProbe, evaluate_probe, make_probe


def blobs(n=600, d=8, k=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(k, d)) * rng.uniform(0.5, 20, size=d)  # features on unlike scales
    y = np.arange(n) % k
    return (centers[y] + rng.normal(0, 1, size=(n, d)) * rng.uniform(0.5, 20, size=d)).astype(np.float32), y


@pytest.mark.parametrize("method", ["svm", "logreg", "knn"])
def test_probes_score_separable_codes(method):
    X, y = blobs()
    probe = make_probe(method, random_state=0).fit(X[:400], y[:400])
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
    exact = SVMProbe(exact_max_samples=1000, random_state=0).fit(X, y)
    approx = SVMProbe(exact_max_samples=100, n_nystroem=200, random_state=0).fit(X, y)
    assert exact.solver_.startswith("exact RBF SVC")
    assert approx.solver_.startswith("Nystroem") and "600 training codes > 100" in approx.solver_
    assert (approx.predict(X) == y).mean() > 0.95
    forced = SVMProbe(svm_solver="nystroem", n_nystroem=100, random_state=0).fit(X, y)
    assert forced.solver_.startswith("Nystroem")


def test_probe_follows_the_estimator_contract():
    probe = SVMProbe(C=3.0, random_state=7)
    assert probe.get_params()["C"] == 3.0 and probe.get_params()["random_state"] == 7
    twin = clone(probe)
    assert twin.get_params() == probe.get_params()
    assert not hasattr(twin, "pipeline_")


def test_make_probe_gives_each_class_only_its_own_parameters():
    kw = dict(svm_solver="exact", exact_max_samples=5, random_state=3, n_jobs=2)
    assert make_probe("svm", **kw).get_params()["svm_solver"] == "exact"
    assert make_probe("knn", **kw).get_params() == {"n_neighbors": 5, "n_jobs": 2, "random_state": 3,
                                                    "knn_exact_max_samples": 100000}   # not the SVM's limit
    assert make_probe("logreg", **kw).get_params() == LogRegProbe().get_params()
    mine = KNNProbe(3)
    assert make_probe(mine) is mine


def test_probes_measure_what_the_plain_sklearn_pipelines_measure():
    # The registry's classes must give the figures the old if-chain gave: same estimators, same parameters.
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    X, y = blobs(400, seed=3)
    plain = {"svm": SVC(C=10.0, kernel="rbf", gamma="scale", random_state=0),
             "logreg": LogisticRegression(max_iter=2000, C=1.0), "knn": KNeighborsClassifier(5)}
    for name, est in plain.items():
        ours = make_probe(name, random_state=0).fit(X[:300], y[:300]).predict(X[300:])
        theirs = make_pipeline(StandardScaler(), est).fit(X[:300], y[:300]).predict(X[300:])
        np.testing.assert_array_equal(ours, theirs)


def test_bad_probe_choices_are_user_errors():
    X, y = blobs()
    with pytest.raises(UserError, match="unknown probe"):
        make_probe("forest")
    with pytest.raises(UserError, match="svm_solver"):
        SVMProbe(svm_solver="fast").fit(X, y)
    with pytest.raises(UserError, match="2 classes"):
        KNNProbe().fit(X, np.zeros(len(X), int))
    with pytest.raises(UserError, match="NaN"):
        LogRegProbe().fit(np.full_like(X, np.nan), y)
