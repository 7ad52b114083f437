"""A small valid MNIST-shaped dataset in IDX files, for the data tests (one writer, not two)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentatlas.data import sources
from latentatlas.data.idx import write_idx

STEMS = sources.FILES


def make_idx_dataset(folder: Path, n_train=30, n_test=20, size=28, n_classes=10, gz=True, seed=0):
    """Write the 4 IDX files (gzip unless gz=False) into `folder`.
    Returns (arrays, paths): {key: array} and {key: path}, keys x_train, y_train, x_test, y_test."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
        "y_train": (np.arange(n_train) % n_classes).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
        "y_test": (np.arange(n_test) % n_classes).astype(np.uint8),
    }
    suffix = ".gz" if gz else ""
    paths = {k: write_idx(Path(folder) / (STEMS[k] + suffix), a) for k, a in arrays.items()}
    return arrays, paths
