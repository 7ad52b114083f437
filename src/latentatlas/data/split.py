"""Seeded train/test split for datasets that do not come with one."""

from __future__ import annotations

import numpy as np

from ..errors import UserError


def check_test_fraction(test_fraction: float) -> float:
    try:
        f = float(test_fraction)
    except (TypeError, ValueError):
        raise UserError(f"test fraction {test_fraction!r} is not a number; give e.g. 0.2") from None
    if not 0.0 < f < 1.0:
        raise UserError(f"test fraction {f} must lie strictly between 0 and 1, e.g. 0.2")
    return f


def seeded_split(n: int, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(train_idx, test_idx): a random permutation from `seed`, round(n * f) test items.

    Each part is returned sorted, so images keep their original order. Both
    parts get at least one item when n >= 2.
    """
    f = check_test_fraction(test_fraction)
    if n < 2:
        raise UserError(f"cannot split {n} image(s) into a training and a test part; need at least 2")
    n_test = min(max(int(round(n * f)), 1), n - 1)
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])
