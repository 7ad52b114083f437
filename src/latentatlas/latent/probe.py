"""Linear and non-linear probes: how much class information the codes carry.

A probe is trained on training-split codes and scored on test-split codes
(study 001 trained an SVM on its VAE's codes). Features are standardised
inside a `Pipeline`, so the scaler sees only training codes.

`LatentProbe` follows scikit-learn's estimator contract. The RBF SVM (libsvm)
grows roughly quadratically with the number of training codes, so above
`exact_max_samples` the "auto" solver maps the codes with a Nystroem kernel
approximation (Williams & Seeger 2001) and trains a linear SVM on that
(`solver_` says which was used).
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..errors import UserError

PROBES = ("svm", "logreg", "knn")
TITLES = {"svm": "SVM (RBF kernel)", "logreg": "logistic regression", "knn": "k-nearest neighbours"}


class LatentProbe(ClassifierMixin, BaseEstimator):
    """method: "svm" | "logreg" | "knn"; fitted: pipeline_, solver_ (words), classes_, seconds_."""

    def __init__(self, method="svm", svm_solver="auto", exact_max_samples=70000, C=10.0, gamma="scale",
                 n_nystroem=1000, n_neighbors=5, random_state=None, n_jobs=1):
        self.method = method
        self.svm_solver = svm_solver
        self.exact_max_samples = exact_max_samples
        self.C = C
        self.gamma = gamma
        self.n_nystroem = n_nystroem
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _build(self, n_samples: int, n_features: int):
        from sklearn.kernel_approximation import Nystroem
        from sklearn.linear_model import LogisticRegression
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC, LinearSVC

        if self.method == "logreg":
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0)), \
                "logistic regression (lbfgs, multinomial)"
        if self.method == "knn":
            return make_pipeline(StandardScaler(), KNeighborsClassifier(self.n_neighbors, n_jobs=self.n_jobs)), \
                f"{self.n_neighbors}-nearest neighbours (euclidean)"
        solver = self.svm_solver
        if solver == "auto":
            solver = "exact" if n_samples <= self.exact_max_samples else "nystroem"
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

    def fit(self, X, y):
        if self.method not in PROBES:
            raise UserError(f"unknown probe {self.method!r}; choose from {', '.join(PROBES)}")
        if self.svm_solver not in ("auto", "exact", "nystroem"):
            raise UserError(f"svm_solver {self.svm_solver!r} is not one of auto, exact, nystroem")
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        if len(np.unique(y)) < 2:
            raise UserError("a probe needs at least 2 classes in the training labels")
        t0 = time.perf_counter()
        self.pipeline_, self.solver_ = self._build(*X.shape)
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.pipeline_.fit(X, y)
        self.classes_ = self.pipeline_.classes_
        self.seconds_ = time.perf_counter() - t0
        return self

    def predict(self, X):
        return self.pipeline_.predict(np.asarray(X, dtype=np.float32))


def evaluate_probe(probe, X_test, y_test, class_names) -> dict:
    """accuracy, macro precision/recall/F1, per-class report and confusion matrix (numbers)."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, precision_recall_fscore_support

    t0 = time.perf_counter()
    y_pred = probe.predict(X_test)
    labels = np.arange(len(class_names))
    p, r, f, _ = precision_recall_fscore_support(y_test, y_pred, labels=labels, average="macro", zero_division=0)
    report = classification_report(y_test, y_pred, labels=labels, target_names=[str(c) for c in class_names],
                                   output_dict=True, zero_division=0)
    per_class = {name: {k: v for k, v in report[name].items()} for name in map(str, class_names)}
    return {
        "accuracy": float(accuracy_score(y_test, y_pred)),
        "precision": float(p),      # macro averages over classes
        "recall": float(r),
        "f1": float(f),
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(y_test, y_pred, labels=labels).tolist(),
        "predict_seconds": round(time.perf_counter() - t0, 3),
    }
