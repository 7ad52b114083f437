"""Linear and non-linear probes: how much class information the codes carry.

A probe is trained on training-split codes and scored on test-split codes
(study 001 trained an SVM on its VAE's codes). Features are standardised
inside a `Pipeline`, so the scaler sees only training codes.

One estimator class per kind, chosen by name from `latentatlas.registry.PROBES`
(`make_probe`): `SVMProbe`, `LogRegProbe`, `KNNProbe`. Each follows scikit-learn's
estimator contract and passes its `check_estimator`. The RBF SVM (libsvm) grows
roughly quadratically with the number of training codes, so above
`exact_max_samples` the "auto" solver maps the codes with a Nystroem kernel
approximation (Williams & Seeger 2001) and trains a linear SVM on that (on a seeded
subsample above `nystroem_max_samples`, so that 1M codes stay within 16 GB); the kNN probe
searches approximately above `knn_exact_max_samples` (`solver_` says which was used).
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..runtime import as_threads
from ..errors import UserError
from ..registry import PROBES
from .base import InputError, build, validate

SVM_SOLVERS = PROBES["svm"].limits["solvers"]        # ("auto", "exact", "nystroem")


class _Probe(ClassifierMixin, BaseEstimator):
    """Checks, fitting and prediction shared by the probes; a subclass says which pipeline
    (`_pipeline(n_samples, n_features)` -> (Pipeline, words for `solver_`)).

    Fitted: pipeline_, solver_ (words), classes_, n_features_in_, seconds_.
    """

    def _check_params(self) -> None:
        """Parameter checks a subclass adds (in fit, so that clone and set_params stay free)."""

    def fit(self, X, y):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.utils.multiclass import check_classification_targets

        self._check_params()
        X, y = validate(self, X, y, dtype=np.float32, what="probe")
        check_classification_targets(y)
        if len(np.unique(y)) < 2:
            raise InputError("a probe needs at least 2 classes in the training labels, got 1 class")
        t0 = time.perf_counter()
        self.pipeline_, self.solver_ = self._pipeline(*X.shape)
        X, y = self._training_rows(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.pipeline_.fit(X, y)
        self.classes_ = self.pipeline_.classes_
        self.seconds_ = time.perf_counter() - t0
        return self

    def _training_rows(self, X, y):
        """The rows the pipeline is fitted on (all of them, unless a subclass caps them)."""
        return X, y

    def predict(self, X):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        return self.pipeline_.predict(validate(self, X, reset=False, dtype=np.float32, what="probe"))


# libsvm trains the k(k-1)/2 class pairs of a multi-class SVC one after another. From this many
# jobs the exact SVM trains them on n_jobs threads instead (_PairwiseSVC); below it, SVC as ever.
SVM_PAIRS_MIN_JOBS = 4


class _PairwiseSVC(ClassifierMixin, BaseEstimator):
    """The exact RBF SVM with its one-vs-one class pairs trained on `n_jobs` threads.

    The same binary problems libsvm's multi-class SVC solves (each pair's codes, the same C and,
    for gamma "scale", the same 1 / (n_features * Var(X)) over all codes, not per pair), trained
    side by side: libsvm releases the GIL while it trains. Votes whose count ties are broken by
    the summed decision values (scikit-learn's OneVsOneClassifier) where libsvm takes the lower
    class, so a rare tied code may get the other label."""

    def __init__(self, C=10.0, gamma="scale", n_jobs=2, random_state=None):
        self.C = C
        self.gamma = gamma
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y):
        from joblib import parallel_config
        from sklearn.multiclass import OneVsOneClassifier
        from sklearn.svm import SVC

        X = np.asarray(X, dtype=np.float64)       # what libsvm trains on, and SVC's "scale" reads
        gamma = float(1.0 / (X.shape[1] * X.var())) if self.gamma == "scale" else self.gamma
        self.ovo_ = OneVsOneClassifier(SVC(C=self.C, kernel="rbf", gamma=gamma, cache_size=500,
                                           random_state=self.random_state), n_jobs=self.n_jobs)
        with parallel_config(backend="threading"):       # shared arrays, no copies to processes
            self.ovo_.fit(X, y)
        self.classes_ = self.ovo_.classes_
        return self

    def predict(self, X):
        """OneVsOneClassifier's vote, with the pairs' decision values computed on the threads too
        (its own predict asks them one after another, and each pair's kernel rows are its own).
        The vote is written out here because scikit-learn keeps its own (_ovr_decision_function)
        private; a test holds the two equal."""
        from concurrent.futures import ThreadPoolExecutor

        X = np.asarray(X, dtype=np.float64)
        pairs = [(i, j) for i in range(len(self.classes_)) for j in range(i + 1, len(self.classes_))]
        with ThreadPoolExecutor(max_workers=self.n_jobs) as pool:   # libsvm releases the GIL here too
            decisions = list(pool.map(lambda est: est.decision_function(X), self.ovo_.estimators_))
        votes = np.zeros((len(X), len(self.classes_)))
        confidence = np.zeros_like(votes)
        for (i, j), d in zip(pairs, decisions):        # a positive value is a vote for j (the pair's "1")
            votes[:, i] += d <= 0
            votes[:, j] += d > 0
            confidence[:, i] -= d
            confidence[:, j] += d
        # ties in the vote broken by the summed decision values, squashed below one vote
        return self.classes_[np.argmax(votes + confidence / (3 * (np.abs(confidence) + 1)), axis=1)]


class SVMProbe(_Probe):
    """An RBF-kernel SVM: exact (libsvm) up to `exact_max_samples` training codes, above that
    (svm_solver "auto") a Nystroem kernel map + linear SVM; "exact" / "nystroem" force one.
    From SVM_PAIRS_MIN_JOBS jobs (choice_jobs, default n_jobs: an analysis lane trains on fewer
    threads than the --jobs it chooses for) the exact SVM trains its class pairs in parallel
    (_PairwiseSVC)."""

    def __init__(self, svm_solver="auto", exact_max_samples=70000, C=10.0, gamma="scale", n_nystroem=1000,
                 random_state=None, nystroem_max_samples=300000, n_jobs=1, choice_jobs=None):
        self.svm_solver = svm_solver
        self.exact_max_samples = exact_max_samples
        self.nystroem_max_samples = nystroem_max_samples
        self.C = C
        self.gamma = gamma
        self.n_nystroem = n_nystroem
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.choice_jobs = choice_jobs

    def _check_params(self) -> None:
        if self.svm_solver not in SVM_SOLVERS:
            raise UserError(f"svm_solver {self.svm_solver!r} is not one of {', '.join(SVM_SOLVERS)}")

    def _pipeline(self, n_samples: int, n_features: int):
        from sklearn.kernel_approximation import Nystroem
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC, LinearSVC

        solver = self.svm_solver
        if solver == "auto":
            solver = "exact" if n_samples <= self.exact_max_samples else "nystroem"
        jobs = as_threads(self.n_jobs)
        if solver == "exact" and as_threads(self.choice_jobs or self.n_jobs) >= SVM_PAIRS_MIN_JOBS:
            return make_pipeline(StandardScaler(), _PairwiseSVC(C=self.C, gamma=self.gamma, n_jobs=jobs,
                                                                random_state=self.random_state)), \
                f"exact RBF SVC (libsvm, C={self.C}, gamma={self.gamma}; class pairs on {jobs} threads)"
        if solver == "exact":
            return make_pipeline(StandardScaler(), SVC(C=self.C, kernel="rbf", gamma=self.gamma,
                                                       cache_size=500, random_state=self.random_state)), \
                f"exact RBF SVC (libsvm, C={self.C}, gamma={self.gamma})"
        # gamma="scale" as SVC defines it: 1 / (n_features * Var(X)) = 1 / n_features after scaling
        gamma = 1.0 / n_features if self.gamma == "scale" else float(self.gamma)
        n_comp = int(min(self.n_nystroem, n_samples))
        return make_pipeline(StandardScaler(),
                             Nystroem(kernel="rbf", gamma=gamma, n_components=n_comp, random_state=self.random_state),
                             LinearSVC(C=self.C / 10.0, dual=False, max_iter=2000)), \
            (f"Nystroem RBF kernel map ({n_comp} components, gamma={gamma:.3g}) + linear SVM "
             f"(chosen: {n_samples} training codes > {self.exact_max_samples})"
             if self.svm_solver == "auto" else f"Nystroem RBF kernel map ({n_comp} components) + linear SVM")


    def _training_rows(self, X, y):
        """Above `nystroem_max_samples` codes (0 = never) the linear SVM learns from a seeded subsample:
        liblinear copies its (N, n_nystroem) kernel map into 16 bytes a value, 14 GB for 857,000
        codes, so 1M codes would not fit in 16 GB."""
        limit = self.nystroem_max_samples
        if not limit or len(X) <= limit or not self.solver_.startswith("Nystroem"):
            return X, y
        idx = np.sort(np.random.default_rng(self.random_state or 0).choice(len(X), limit, replace=False))
        self.solver_ += f"; fitted on a seeded subsample of {limit} of {len(X)} training codes"
        return X[idx], y[idx]


class LogRegProbe(_Probe):
    """Multinomial logistic regression (lbfgs) on standardised codes."""

    def __init__(self, C=1.0, max_iter=2000):
        self.C = C
        self.max_iter = max_iter

    def _pipeline(self, n_samples: int, n_features: int):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=self.max_iter, C=self.C)), \
            "logistic regression (lbfgs, multinomial)"

    def fit(self, X, y):
        super().fit(X, y)
        self.n_iter_ = self.pipeline_[-1].n_iter_        # lbfgs iterations, as max_iter bounds them
        return self


class _NNDescentClassifier(ClassifierMixin, BaseEstimator):
    """Majority vote of the k nearest training codes found by nearest-neighbour descent
    (pynndescent, umap-learn's recipe, as project.knn_graph above its threshold)."""

    def __init__(self, n_neighbors=5, n_jobs=1, random_state=0):
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y):
        from pynndescent import NNDescent

        self.classes_, self._y = np.unique(y, return_inverse=True)
        n = len(X)
        self.index_ = NNDescent(np.asarray(X, dtype=np.float32), n_neighbors=max(self.n_neighbors, 15),
                                random_state=self.random_state, n_jobs=self.n_jobs,
                                n_trees=min(64, 5 + int(round(n ** 0.5 / 20.0))),
                                n_iters=max(5, int(round(np.log2(n)))), max_candidates=60, low_memory=True)
        return self

    def predict(self, X):
        # Searching for 15 and keeping the nearest k finds the true k far more often than asking for k.
        k = int(min(self.n_neighbors, len(self._y)))
        nn = self.index_.query(np.asarray(X, dtype=np.float32), k=int(min(max(k, 15), len(self._y))))[0][:, :k]
        counts = np.zeros((len(X), len(self.classes_)), np.int64)
        np.add.at(counts, (np.arange(len(X))[:, None], self._y[nn]), 1)
        return self.classes_[counts.argmax(1)]          # argmax: lowest class on ties, as scikit-learn


class KNNProbe(_Probe):
    """k-nearest neighbours (euclidean) on standardised codes: exact (scikit-learn's KD-tree) up
    to `knn_exact_max_samples` training codes, whose cost grows faster than N log N in 16-d;
    above that (0 = never) approximate search by nearest-neighbour descent (`solver_` says which)."""

    def __init__(self, n_neighbors=5, n_jobs=1, knn_exact_max_samples=100000, random_state=None):
        self.n_neighbors = n_neighbors
        self.n_jobs = n_jobs
        self.knn_exact_max_samples = knn_exact_max_samples
        self.random_state = random_state

    def _pipeline(self, n_samples: int, n_features: int):
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        limit = self.knn_exact_max_samples
        if limit and n_samples > limit:
            return make_pipeline(StandardScaler(), _NNDescentClassifier(self.n_neighbors, self.n_jobs,
                                                                        self.random_state or 0)), \
                (f"{self.n_neighbors}-nearest neighbours (euclidean, approximate: pynndescent, "
                 f"chosen: {n_samples} training codes > {limit})")
        return make_pipeline(StandardScaler(), KNeighborsClassifier(self.n_neighbors, n_jobs=self.n_jobs)), \
            f"{self.n_neighbors}-nearest neighbours (euclidean)"

    def fit(self, X, y):
        super().fit(X, y)
        approximate = isinstance(self.pipeline_[-1], _NNDescentClassifier)
        self.backend_ = "pynndescent (cpu)" if approximate else None     # None: backend_label's default
        return self


def make_probe(method, backend="cpu", **params):
    """A probe by its name in `registry.PROBES` ("svm", "logreg", "knn"), given the parameters
    its class takes (the others are dropped: one call serves every kind), or `method` itself
    if it is already an estimator; backend "torch" picks the entry's torch class if any."""
    return build(PROBES, method, {}, params, backend=backend)


def majority_baseline(y_train, y_test, class_names) -> dict:
    """What a probe must beat on imbalanced classes: every test image given the training split's
    most frequent class (scikit-learn's DummyClassifier); accuracy, balanced accuracy, macro
    precision/recall/F1, as evaluate_probe reports them."""
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y_train), 1)), y_train)
    scores = evaluate_probe(dummy, np.zeros((len(y_test), 1)), y_test, class_names)
    return {"class": str(class_names[int(dummy.classes_[np.argmax(dummy.class_prior_)])]),
            **{k: scores[k] for k in ("accuracy", "balanced_accuracy", "precision", "recall", "f1")}}


def evaluate_probe(probe, X_test, y_test, class_names) -> dict:
    """accuracy, balanced accuracy (the mean of per-class recalls: what accuracy says on balanced
    classes), macro precision/recall/F1, per-class report and confusion matrix (numbers)."""
    from sklearn.metrics import (accuracy_score, balanced_accuracy_score, classification_report, confusion_matrix,
                                 precision_recall_fscore_support)

    t0 = time.perf_counter()
    y_pred = probe.predict(X_test)
    labels = np.arange(len(class_names))
    p, r, f, _ = precision_recall_fscore_support(y_test, y_pred, labels=labels, average="macro", zero_division=0)
    report = classification_report(y_test, y_pred, labels=labels, target_names=[str(c) for c in class_names],
                                   output_dict=True, zero_division=0)
    per_class = {name: {k: v for k, v in report[name].items()} for name in map(str, class_names)}
    return {
        "accuracy": float(accuracy_score(y_test, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_test, y_pred)),
        "precision": float(p),      # macro averages over classes
        "recall": float(r),
        "f1": float(f),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(y_test, y_pred, labels=labels).tolist(),
        "predict_seconds": round(time.perf_counter() - t0, 3),
    }
