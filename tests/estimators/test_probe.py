"""Probes: SVM / logistic regression / kNN in a scaling pipeline; Nystroem above a size."""

import numpy as np
import pytest
from sklearn.base import clone

from latentatlas.errors import UserError
from latentatlas.estimators.probe import KNNProbe, LogRegProbe, SVMProbe, evaluate_probe, make_probe


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


# ------------------------------------------------------------------ factor probes (estimators/factors.py)
def test_hue_is_a_point_on_the_circle_and_wraps_around():
    from latentatlas.estimators.factors import score_factor, target

    t = target("hue", [0.0, 0.25, 0.99])
    np.testing.assert_allclose(t[:2], [[1, 0], [0, 1]], atol=1e-12)
    # 0.99 and 0.01 lie 0.02 of a turn apart (7.2 degrees), not 0.98 of one
    s = score_factor("hue", target("hue", [0.99, 0.5]), target("hue", [0.01, 0.5]))
    assert abs(s["mean_angle_error_deg"] - 7.2 / 2) < 1e-6
    assert target("size", [1.5, 2.0]).shape == (2, 1)
    assert "mean_angle_error_deg" not in score_factor("size", target("size", [1.0, 2.0]), target("size", [1.0, 2.0]))


def test_factor_probe_finds_a_circular_factor_the_codes_carry_and_not_one_they_do_not():
    from latentatlas.estimators.factors import probe_factor

    rng = np.random.default_rng(0)
    hue = rng.random(1500)
    other = rng.normal(size=(1500, 4))
    carried = np.column_stack([other, 5 * np.cos(2 * np.pi * hue), 5 * np.sin(2 * np.pi * hue)])
    got = probe_factor("hue", carried[:1000], hue[:1000], carried[1000:], hue[1000:])
    assert got["r2"] > 0.95 and got["ridge"]["r2"] > 0.95 and got["knn"]["mean_angle_error_deg"] < 10
    # the hue as a plain number in one column: linear in h, not in (cos, sin); kNN still reads it
    plain = np.column_stack([other, hue])
    got = probe_factor("hue", plain[:1000], hue[:1000], plain[1000:], hue[1000:])
    assert got["probe"] == "knn" and got["knn"]["r2"] > 0.8 > got["ridge"]["r2"]
    none = probe_factor("hue", other[:1000], hue[:1000], other[1000:], hue[1000:])
    assert none["r2"] < 0.05 and none["ridge"]["mean_angle_error_deg"] > 75


def test_report_sentence_names_each_factor():
    from latentatlas.estimators.factors import class_entry, sentence

    probes = {"svm": {"accuracy": 0.9}, "knn": {"accuracy": 0.95}, "dims": 8}
    assert class_entry(probes) == {"accuracy": 0.95, "probe": "knn"} and class_entry({"dims": 8}) is None
    line = sentence({"class": class_entry(probes),
                     "hue": {"r2": 0.5, "probe": "knn", "knn": {"r2": 0.5, "mean_angle_error_deg": 12.34}}})
    assert line == "class: probe accuracy 0.950 (knn); hue: R^2 0.500 (knn), off by 12.3 degrees of the circle on average"


def test_svm_trains_its_class_pairs_on_threads_from_4_jobs_with_the_same_answers():
    """libsvm trains a multi-class SVC's pairs one after another; from 4 jobs the exact SVM trains
    the same binary problems (same C, same gamma "scale" over all codes) side by side."""
    import numpy as np

    from latentatlas.estimators.probe import SVM_PAIRS_MIN_JOBS, SVMProbe

    rng = np.random.default_rng(0)
    centers = rng.normal(0, 2.0, (5, 6))
    y = rng.integers(0, 5, 1500)
    X = (centers[y] + rng.normal(0, 1.0, (1500, 6))).astype(np.float32)
    one = SVMProbe(random_state=0, n_jobs=1).fit(X[:1000], y[:1000])
    many = SVMProbe(random_state=0, n_jobs=SVM_PAIRS_MIN_JOBS).fit(X[:1000], y[:1000])
    assert "class pairs on 4 threads" in many.solver_ and "threads" not in one.solver_
    pairwise = many.pipeline_[-1]
    assert len(pairwise.ovo_.estimators_) == 5 * 4 // 2
    assert pairwise.ovo_.estimators_[0]._gamma == one.pipeline_[-1]._gamma    # gamma over all codes, as SVC
    agree = np.mean(one.predict(X[1000:]) == many.predict(X[1000:]))
    assert agree >= 0.99, agree                         # only vote ties may be broken otherwise
    assert abs(one.score(X[1000:], y[1000:]) - many.score(X[1000:], y[1000:])) <= 0.01
    # the threaded vote is OneVsOneClassifier's own
    Xs = many.pipeline_[0].transform(X[1000:])
    np.testing.assert_array_equal(pairwise.predict(Xs), pairwise.ovo_.predict(Xs))


def test_imbalanced_classes_balanced_accuracy_and_the_majority_baseline():
    """90 % of one class: the majority baseline's accuracy is that share, its balanced accuracy 1/k;
    a probe that learned nothing scores near it, and balanced accuracy and macro F1 say so."""
    from latentatlas.estimators.probe import evaluate_probe, majority_baseline, make_probe

    rng = np.random.default_rng(0)
    y_train = np.r_[np.zeros(270, int), np.ones(15, int), np.full(15, 2)]
    y_test = np.r_[np.zeros(90, int), np.ones(5, int), np.full(5, 2)]
    base = majority_baseline(y_train, y_test, ["big", "small", "tiny"])
    assert base["class"] == "big" and base["accuracy"] == 0.9
    assert abs(base["balanced_accuracy"] - 1 / 3) < 1e-9 and base["f1"] < 0.35
    noise = make_probe("logreg").fit(rng.normal(size=(300, 4)), y_train)
    scores = evaluate_probe(noise, rng.normal(size=(100, 4)), y_test, ["big", "small", "tiny"])
    assert scores["accuracy"] >= 0.85 and scores["balanced_accuracy"] < 0.5 and scores["f1"] < 0.5
