"""What every latent estimator shares: input checks as scikit-learn wants them, one-line errors,
and building an estimator from its registry name.

scikit-learn's `check_estimator` asks that bad input (empty, 1-D, complex, NaN, the wrong
number of features) raise a `ValueError`, and our CLI asks that whatever a user can cause
end in one line (`UserError`). `InputError` is both, so one raise serves the two callers.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError


class InputError(UserError, ValueError):
    """Bad data handed to an estimator: a one-line `UserError` for the CLI, a `ValueError`
    for scikit-learn (its estimator checks and its model-selection tools expect one)."""


def validate(est, X, y="no_validation", *, reset: bool = True, what: str | None = None, **check_params):
    """scikit-learn's `validate_data` (sets / checks `n_features_in_`), its ValueErrors raised
    again as one-line `InputError`s that name the estimator.

    Sparse input stays a `TypeError` (scikit-learn's own wording: "dense data is required"):
    no stage of ours produces it, so it is a programming error, not a user's.
    """
    from sklearn.utils.validation import validate_data

    try:
        return validate_data(est, X, y, reset=reset, **check_params)
    except InputError:
        raise
    except ValueError as exc:
        words = " ".join(str(exc).split())                   # scikit-learn's messages span lines
        raise InputError(f"{what or type(est).__name__}: {words}") from None


def flatten_images(X):
    """Images (N, H, W) or (N, C, H, W) -> pixels (N, H*W...); anything else unchanged, so that
    a 1-D array still reaches `validate` and is refused there as scikit-learn expects."""
    if getattr(X, "ndim", 0) >= 3:
        return np.asarray(X).reshape(len(X), -1)
    return X


def build(registry, method, required: dict, optional: dict | None = None, backend: str = "cpu"):
    """An estimator from its name in `registry`, with the `required` parameters and those of
    `optional` its class accepts; an object with `fit` is returned as it is (openTSNE's
    habit: a caller may pass an estimator of their own instead of a name). `backend`
    ("cpu" / "torch", resolved) picks the entry's class for it (estimators/backends.py)."""
    if not isinstance(method, str):
        if not hasattr(method, "fit"):
            raise UserError(f"{method!r} is neither a {registry.kind} name ({', '.join(registry)}) "
                            "nor an estimator with fit()")
        return method
    from .backends import entry_class

    cls = entry_class(registry, method, backend)
    accepted = cls._get_param_names()
    return cls(**required, **{k: v for k, v in (optional or {}).items() if k in accepted})


def expected_failed_checks(est) -> dict[str, str]:
    """The scikit-learn estimator checks `est` cannot pass, each with the reason (a class
    declares them in `_expected_failed_checks`); for `parametrize_with_checks`."""
    return dict(getattr(est, "_expected_failed_checks", {}))


# scikit-learn's GaussianMixture multiplies (N, d) by (d, d) matrices; for codes this narrow BLAS
# threads cost more than they give and never change the result (70,000 10-d MNIST codes, 10
# components, 5 initialisations: 4.1 s on one thread, 7.2-8.3 s on two; 60,000 32-d: 0.65 s
# against 1.5 s; 128-d: 4.1 s against 3.4-4.5 s, so wide codes keep their threads).
NARROW_MIXTURE_DIMS = 64


def fit_mixture(gmm, X):
    """`gmm.fit(X)`, on one BLAS thread for codes of at most NARROW_MIXTURE_DIMS dimensions."""
    if np.shape(X)[1] > NARROW_MIXTURE_DIMS:
        return gmm.fit(X)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return gmm.fit(X)
