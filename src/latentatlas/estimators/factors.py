"""Factor probes: how much of each known factor of variation the codes carry.

A dataset may know, per image, factors beside its class (`ImageDataset.factors_train`,
mnist-color's "hue" in [0, 1)). Like the class probes (estimators/probe.py), a factor probe
is a regressor trained on training-split codes and scored on test-split codes, with a
StandardScaler inside its pipeline. Two regressors, so that the figure says both how
much and in what form the codes hold the factor:

    ridge   linear (RidgeCV, alpha chosen by leave-one-out on the training codes)
    knn     k-nearest-neighbour regression (15 neighbours, distance-weighted)

A circular factor such as hue (0.99 lies next to 0.01) is predicted as the point
(cos 2*pi*h, sin 2*pi*h) on the unit circle: R^2 is averaged over the two coordinates,
and the mean angle between the true and the predicted hue is reported in degrees
(a probe that learned nothing is off by 90 degrees on average).
"""

from __future__ import annotations

import numpy as np

CIRCULAR = {"hue"}                 # factors that live on a circle of period 1
REGRESSORS = ("ridge", "knn")
KNN_NEIGHBOURS = 15
WORDS = {"ridge": "ridge regression (linear, alpha by leave-one-out)",
         "knn": f"{KNN_NEIGHBOURS}-nearest-neighbour regression (distance-weighted)"}


def target(name: str, values) -> np.ndarray:
    """What a probe predicts for a factor: (N, 2) points on the unit circle, or (N, 1) values."""
    v = np.asarray(values, dtype=np.float64)
    if name in CIRCULAR:
        angle = 2.0 * np.pi * v
        return np.column_stack([np.cos(angle), np.sin(angle)])
    return v[:, None]


def make_regressor(method: str, n_jobs: int | None = 1):
    from sklearn.linear_model import RidgeCV
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if method == "ridge":
        return make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
    if method == "knn":
        return make_pipeline(StandardScaler(), KNeighborsRegressor(KNN_NEIGHBOURS, weights="distance", n_jobs=n_jobs))
    raise ValueError(f"unknown factor regressor {method!r}; choose from {', '.join(REGRESSORS)}")


def score_factor(name: str, y_true, y_pred) -> dict:
    """R^2 (averaged over the target's columns) and, for a circular factor, the mean angle error."""
    from sklearn.metrics import r2_score

    out = {"r2": float(r2_score(y_true, y_pred, multioutput="uniform_average"))}
    if name in CIRCULAR:
        # Angle between the true and the predicted direction, in [0, 180] degrees.
        diff = np.arctan2(y_pred[:, 1], y_pred[:, 0]) - np.arctan2(y_true[:, 1], y_true[:, 0])
        out["mean_angle_error_deg"] = float(np.degrees(np.abs(np.angle(np.exp(1j * diff)))).mean())
    return out


def probe_factor(name: str, X_train, f_train, X_test, f_test, n_jobs: int | None = 1) -> dict:
    """Both regressors on one factor: {"r2": best R^2, "probe": its name, "target": words,
    "ridge": {...}, "knn": {...}} (each with r2, and mean_angle_error_deg for a circle)."""
    y_train, y_test = target(name, f_train), target(name, f_test)
    out = {"target": ("(cos 2*pi*h, sin 2*pi*h): the factor is circular" if name in CIRCULAR
                      else "the factor's value"),
           "n_train": len(X_train), "n_test": len(X_test)}
    for method in REGRESSORS:
        reg = make_regressor(method, n_jobs).fit(X_train, y_train)
        out[method] = {"words": WORDS[method], **score_factor(name, y_test, reg.predict(X_test))}
    best = max(REGRESSORS, key=lambda m: out[m]["r2"])
    out["r2"], out["probe"] = out[best]["r2"], best
    return out


def class_entry(probes: dict) -> dict | None:
    """The class "factor": the best class probe's test accuracy (None if no probe ran)."""
    scored = {k: v["accuracy"] for k, v in probes.items()
              if isinstance(v, dict) and "accuracy" in v and k != "majority_baseline"}
    if not scored:
        return None
    best = max(scored, key=scored.get)
    return {"accuracy": float(scored[best]), "probe": best}


def sentence(factors: dict) -> str:
    """One line for the report: "class: probe accuracy 0.930 (svm); hue: R^2 0.980 (knn), off by 7.1 degrees ..."."""
    parts = []
    for name, f in factors.items():
        if "accuracy" in f:
            parts.append(f"{name}: probe accuracy {f['accuracy']:.3f} ({f['probe']})")
        elif "r2" in f:
            best = f.get(f.get("probe"), {})
            angle = (f", off by {best['mean_angle_error_deg']:.1f} degrees of the circle on average"
                     if "mean_angle_error_deg" in best else "")
            parts.append(f"{name}: R^2 {f['r2']:.3f} ({f['probe']}){angle}")
    return "; ".join(parts)
