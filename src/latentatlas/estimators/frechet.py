"""The Frechet distance between two Gaussians fitted to features.

Between real test images and generated images in the judge's penultimate-layer
features, as FID does with Inception features (Heusel et al. 2017, "GANs trained
by a two time-scale update rule ...", eq. 6):

    FD = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2})

    feature_stats(features) -> (mu, sigma)
    frechet_distance(mu1, sigma1, mu2, sigma2) -> float
"""

from __future__ import annotations

import numpy as np


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), the Gaussian the FD compares."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need at least 2 feature vectors (N, D), got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix via its eigendecomposition
    (negative eigenvalues from rounding clipped to 0)."""
    from scipy import linalg

    w, v = linalg.eigh(sigma)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2):

        ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})

    Tr((S1 S2)^{1/2}) is computed as Tr((S1^{1/2} S2 S1^{1/2})^{1/2}) (the two matrices
    are similar, so their square roots have the same eigenvalues): the inner matrix
    is symmetric PSD, so an eigendecomposition gives its square root exactly. The
    usual `scipy.linalg.sqrtm(S1 @ S2)` works on a non-symmetric product and warns,
    or returns complex noise, when a covariance is singular, which it is whenever
    some of the judge's ReLU features are dead; tests check both agree where sqrtm
    is well-posed.
    """
    from scipy import linalg

    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape} {mu2.shape}, sigma {s1.shape} {s2.shape}")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2          # symmetric up to rounding
    root1 = _psd_sqrt(s1)
    inner = root1 @ s2 @ root1                          # (D, D) symmetric PSD
    eig = linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = mu1 - mu2
    fd = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(fd, 0.0)  # rounding can leave a tiny negative value for identical inputs


def frechet_distance_features(f1: np.ndarray, f2: np.ndarray) -> float:
    return frechet_distance(*feature_stats(f1), *feature_stats(f2))
