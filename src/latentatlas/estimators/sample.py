"""Samplers of latent codes, scikit-learn style: `fit(codes, labels=None)`, then `sample(n)`.

`fit`'s arguments are named `X` (codes) and `y` (labels) as scikit-learn names them;
samplers are unsupervised estimators that pass its `check_estimator`. They are chosen
by name from `latentatlas.registry.SAMPLERS` (`make_sampler`).

    sampler = ClassGaussianSampler().fit(train_codes, train_labels)
    z, y = sampler.sample(16, classes=[3, 7], random_state=0)   # (32, d) codes, (32,) classes

`sample` returns `(codes, source)` like `sklearn.mixture.GaussianMixture.sample`:
`source` is the class (class-aware samplers), the mixture component (GMM), or
-1 (samplers that know neither). Decoding the codes to images is the model's
job (`latentatlas.stages.generate.decode_codes`).

- PriorSampler            N(0, I): a VAE's prior. An autoencoder has no prior, so
                          `make_sampler("prior", model_kind="ae")` refuses.
- MixturePriorSampler     a VaDE's learned prior, a diagonal Gaussian mixture: what
                          "prior" means for that model (`fit` takes nothing from the codes).
- GaussianSampler         one Gaussian fitted to all codes (MLE mean and covariance).
- ClassGaussianSampler    one Gaussian per class, MLE mean and covariance (study 000:
                          "multivariate gaussian ... with parameters from MLE estimates
                          of the training data of a specific class").
- GaussianMixtureSampler  a Gaussian mixture with a chosen number of components,
                          fitted by EM (sklearn.mixture.GaussianMixture; study 004).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ..errors import UserError
from ..registry import SAMPLERS
from .base import InputError, build, fit_mixture, validate


def _check_codes(est, codes) -> np.ndarray:
    """float64 (N, d) finite codes; sets est.n_features_in_. Our own words for the two
    mistakes a run can make (wrong shape, NaN), scikit-learn's for the rest (empty, complex)."""
    if np.ndim(codes) != 2:
        raise InputError(f"latent codes must be a non-empty (N, d) array, got shape {np.shape(codes)}")
    codes = validate(est, codes, dtype=np.float64, ensure_all_finite=False, what="latent codes")
    if not np.isfinite(codes).all():
        raise InputError("latent codes contain NaN or inf; re-train or re-encode the run")
    return codes


def _check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise UserError(f"the number of samples must be a positive integer, got {n!r}")
    return int(n)


def full_covariances(gmm) -> np.ndarray:
    """A fitted GaussianMixture's covariances as (K, d, d), whatever its covariance_type."""
    k, d = gmm.means_.shape
    c = gmm.covariances_
    if gmm.covariance_type == "full":
        return c
    if gmm.covariance_type == "tied":
        return np.broadcast_to(c, (k, d, d))
    if gmm.covariance_type == "diag":
        return np.stack([np.diag(v) for v in c])
    return np.stack([np.eye(d) * v for v in c])                  # spherical: c is (K,)


def mle_gaussian(codes: np.ndarray, reg_covar: float) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood mean (d,) and covariance (d, d) (divided by N, not N-1), plus a ridge.

    Why the ridge: the MLE covariance is singular whenever a latent dimension is
    dead or two are collinear (common in autoencoders), or a class has fewer codes
    than dimensions; its Cholesky factor then does not exist. Adding
    `reg_covar` times the mean variance to the diagonal makes it positive definite
    while moving samples by ~sqrt(reg_covar) of a typical standard deviation
    (1e-6 -> 0.1 %): invisible in the images. It is scale-free, unlike sklearn's
    absolute `reg_covar`, because code scales differ by orders of magnitude
    between models.
    """
    mean = codes.mean(0)
    centred = codes - mean
    cov = centred.T @ centred / len(codes)
    scale = float(np.trace(cov)) / cov.shape[0] if cov.shape[0] else 0.0
    cov[np.diag_indices_from(cov)] += reg_covar * (scale if scale > 0 else 1.0)
    return mean, cov


def _draw(rng, mean: np.ndarray, chol: np.ndarray, n: int) -> np.ndarray:
    """n draws from N(mean, L L^T): mean + eps @ L^T, eps (n, d) standard normal."""
    return mean + rng.standard_normal((n, mean.shape[0])) @ chol.T


class _Sampler(BaseEstimator):
    """Shared checks; subclasses set `needs_labels` / `knows_classes` and implement `_fit`, `_sample`."""

    needs_labels = False
    knows_classes = False
    name = "sampler"

    def fit(self, X, y=None):
        """X: codes (N, d); y: their class labels (N,), needed by class-gaussian, else optional."""
        codes = _check_codes(self, X)
        labels = y
        if labels is not None:
            labels = np.asarray(labels, dtype=np.int64)
            if labels.shape != (len(codes),):
                raise InputError(f"labels must be ({len(codes)},) for {len(codes)} codes, got {labels.shape}")
        elif self.needs_labels:
            raise UserError(f"the {self.name} sampler needs class labels; pass labels to fit() "
                            "(or use the gaussian or gmm sampler)")
        self._fit(codes, labels)
        return self

    def sample(self, n: int, random_state=None, classes=None) -> tuple[np.ndarray, np.ndarray]:
        """`n` codes, (n, d) float32, and where each came from (n,) int64."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)                               # NotFittedError: "... is not fitted yet"
        n = _check_n(n)
        if classes is not None and not self.knows_classes:
            raise UserError(f"the {self.name} sampler knows no classes; use class-gaussian to sample per class")
        rng = check_random_state(random_state)
        z, source = self._sample(n, rng, classes)
        return z.astype(np.float32), source.astype(np.int64)


class PriorSampler(_Sampler):
    """N(0, I) in the latent space: what a VAE's KL term pulls its posterior towards."""

    name = "prior"

    def _fit(self, codes, labels):
        pass  # the prior has no parameters; fit only records the latent width

    def _sample(self, n, rng, classes):
        return rng.standard_normal((n, self.n_features_in_)), np.full(n, -1)


class MixturePriorSampler(_Sampler):
    """A learned mixture prior sum_c pi_c N(mu_c, diag sigma_c^2) (VaDE, Jiang et al. 2017).

    weights (K,), means (K, d), variances (K, d): the model's `prior_parameters()`.
    `source` is the component each code was drawn from.
    """

    name = "prior"

    # scikit-learn's checks fit one instance to codes of 1 to 10 features; a prior has one width.
    _WIDTH = "the mixture prior's width is the model's latent size, fixed by its means; other widths are refused"
    _expected_failed_checks = dict.fromkeys((
        "check_estimators_overwrite_params", "check_estimators_fit_returns_self", "check_readonly_memmap_input",
        "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit", "check_estimators_dtypes",
        "check_dtype_object", "check_fit2d_1sample", "check_fit2d_1feature", "check_fit_idempotent",
        "check_fit_check_is_fitted", "check_n_features_in"), _WIDTH)

    def __init__(self, weights=None, means=None, variances=None):
        self.weights, self.means, self.variances = weights, means, variances

    def _fit(self, codes, labels):
        if any(p is None for p in (self.weights, self.means, self.variances)):
            raise UserError("the mixture prior needs weights, means and variances (the model's prior_parameters())")
        means = np.asarray(self.means, dtype=np.float64)
        if means.ndim != 2 or means.shape[1] != codes.shape[1]:
            raise InputError(f"the mixture prior is {means.shape[-1]}-d but the codes are {codes.shape[1]}-d")
        w = np.asarray(self.weights, dtype=np.float64)
        self.weights_ = w / w.sum()
        self.means_, self.variances_ = means, np.asarray(self.variances, dtype=np.float64)

    def _sample(self, n, rng, classes):
        comp = rng.choice(len(self.weights_), size=n, p=self.weights_)
        z = self.means_[comp] + rng.standard_normal((n, self.means_.shape[1])) * np.sqrt(self.variances_[comp])
        return z, comp


class GaussianSampler(_Sampler):
    """One Gaussian, MLE mean and covariance of all codes (ignores classes)."""

    name = "gaussian"

    def __init__(self, reg_covar: float = 1e-6):
        self.reg_covar = reg_covar

    def _fit(self, codes, labels):
        self.mean_, self.covariance_ = mle_gaussian(codes, self.reg_covar)
        self.cholesky_ = np.linalg.cholesky(self.covariance_)

    def _sample(self, n, rng, classes):
        return _draw(rng, self.mean_, self.cholesky_, n), np.full(n, -1)


class ClassGaussianSampler(_Sampler):
    """One Gaussian per class, MLE mean and covariance of that class's codes (study 000).

    `sample(n, classes=None)` draws n codes for EACH requested class (all by
    default), grouped by class, so a grid has one row per class.
    """

    name = "class-gaussian"
    needs_labels = True
    knows_classes = True

    def __init__(self, reg_covar: float = 1e-6):
        self.reg_covar = reg_covar

    def _fit(self, codes, labels):
        self.classes_ = np.unique(labels)                 # (k,) labels present
        d = codes.shape[1]
        self.means_ = np.zeros((len(self.classes_), d))   # (k, d)
        self.covariances_ = np.zeros((len(self.classes_), d, d))
        self.counts_ = np.zeros(len(self.classes_), dtype=np.int64)
        for i, c in enumerate(self.classes_):
            sel = codes[labels == c]
            self.means_[i], self.covariances_[i] = mle_gaussian(sel, self.reg_covar)
            self.counts_[i] = len(sel)
        self.cholesky_ = np.linalg.cholesky(self.covariances_)   # (k, d, d), batched

    def _sample(self, n, rng, classes):
        wanted = self.classes_ if classes is None else np.asarray(classes, dtype=np.int64).ravel()
        if len(wanted) == 0:
            raise UserError("no classes to sample; give at least one class")
        zs, ys = [], []
        for c in wanted:
            hit = np.flatnonzero(self.classes_ == c)
            if len(hit) == 0:
                raise UserError(f"class {int(c)} was not in the codes this sampler was fitted on; "
                                f"known classes: {', '.join(map(str, self.classes_.tolist()))}")
            i = hit[0]
            zs.append(_draw(rng, self.means_[i], self.cholesky_[i], n))
            ys.append(np.full(n, c))
        return np.concatenate(zs), np.concatenate(ys)


class GaussianMixtureSampler(_Sampler):
    """A Gaussian mixture with `n_components` components fitted by EM (study 004).

    Labels are optional: when given, `component_class_` holds each component's
    majority class among the training codes it claims, so generated images can
    still be checked against "the class they were sampled for".
    """

    name = "gmm"

    def __init__(self, n_components: int = 10, covariance_type: str = "full", reg_covar: float = 1e-6,
                 max_iter: int = 200, n_init: int = 1, random_state=0):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.random_state = random_state

    def _fit(self, codes, labels):
        from sklearn.mixture import GaussianMixture

        k = self.n_components
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise UserError(f"the number of mixture components must be a positive integer, got {k!r}")
        if k > len(codes):
            raise UserError(f"{k} mixture components need at least {k} codes, got {len(codes)}; "
                            "lower --components")
        # Standardise first so sklearn's absolute reg_covar means the same for every model's code scale.
        self.shift_, self.scale_ = codes.mean(0), codes.std(0) + 1e-12
        self.gmm_ = fit_mixture(GaussianMixture(n_components=k, covariance_type=self.covariance_type,
                                                reg_covar=self.reg_covar, max_iter=self.max_iter, n_init=self.n_init,
                                                random_state=self.random_state), (codes - self.shift_) / self.scale_)
        self.weights_ = self.gmm_.weights_
        self.means_ = self.gmm_.means_ * self.scale_ + self.shift_          # (K, d), in code units
        if labels is not None:
            comp = self.gmm_.predict((codes - self.shift_) / self.scale_)
            n_cls = int(labels.max()) + 1
            table = np.zeros((k, n_cls), dtype=np.int64)                   # (K, classes) counts
            np.add.at(table, (comp, labels), 1)
            self.component_class_ = np.where(table.sum(1) > 0, table.argmax(1), -1)
            self.component_purity_ = table.max(1) / np.maximum(table.sum(1), 1)

    def _full_cholesky(self) -> np.ndarray:
        """(K, d, d) Cholesky factors of each component's covariance, whatever covariance_type."""
        return np.linalg.cholesky(full_covariances(self.gmm_))

    def sample_per_component(self, n: int, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """n codes from EACH component (ignoring the weights), grouped: for a grid with one row
        per component. Returns (K * n, d) codes and (K * n,) component ids."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "gmm_")
        n = _check_n(n)
        rng = check_random_state(random_state)
        chol = self._full_cholesky()
        k = len(self.weights_)
        z = np.concatenate([_draw(rng, self.gmm_.means_[j], chol[j], n) for j in range(k)])
        return (z * self.scale_ + self.shift_).astype(np.float32), np.repeat(np.arange(k), n)

    def _sample(self, n, rng, classes):
        # sklearn's GaussianMixture.sample always uses the estimator's own random_state;
        # drawing here lets each call pass its own, as the other samplers do.
        comp = np.sort(rng.choice(len(self.weights_), size=n, p=self.weights_))
        chol = self._full_cholesky()
        z = np.empty((n, self.n_features_in_))
        for j in np.unique(comp):
            sel = comp == j
            z[sel] = _draw(rng, self.gmm_.means_[j], chol[j], int(sel.sum()))
        return z * self.scale_ + self.shift_, comp


def make_sampler(name, model_kind: str = "ae", n_components: int = 10, random_state=0,
                 prior: dict | None = None) -> _Sampler:
    """A sampler by its name in `registry.SAMPLERS` (or an already-built sampler, returned as is).

    model_kind "ae" | "vae": the prior is N(0, I) only for a VAE; `prior` (weights, means,
    variances) makes it a learned mixture instead, as for VaDE. n_components and
    random_state go to the samplers that take them (the mixture).
    """
    if not isinstance(name, str):
        return name
    entry = SAMPLERS.entry(name)
    if entry.limits.get("needs") == "vae" and model_kind != "vae":
        raise UserError(f"the {name} sampler needs a VAE (an autoencoder's codes have no N(0, I) prior); "
                        "use --sampler gaussian, class-gaussian or gmm")
    if name == "prior" and prior is not None:
        return MixturePriorSampler(**prior)
    return build(SAMPLERS, name, {}, dict(n_components=n_components, random_state=random_state))


def default_samplers(model_kind: str, has_labels: bool = True) -> list[str]:
    """Every sampler that applies, in registry order: those that need a VAE only for a VAE,
    those that need labels only with labels."""
    have = {"vae": model_kind == "vae", "labels": has_labels}
    return [name for name, entry in SAMPLERS.items() if have.get(entry.limits.get("needs"), True)]
