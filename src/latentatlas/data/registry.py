"""Known datasets and `load_dataset` (minimal version; hardened by the data issue)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from . import ImageDataset
from .idx import read_idx

SAMPLE_DIR = Path(__file__).parent / "sample"

DATASETS = {
    "mnist": [str(i) for i in range(10)],
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
}

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def _find(folder: Path, stem: str) -> Path | None:
    for cand in (folder / stem, folder / (stem + ".gz")):
        if cand.exists():
            return cand
    return None


def load_dataset(name: str, data_dir=None, classes=None, **_) -> ImageDataset:
    if name == "mnist-sample":
        x = read_idx(SAMPLE_DIR / "t10k-images-idx3-ubyte.gz")
        y = read_idx(SAMPLE_DIR / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
        rng = np.random.default_rng(0)
        perm = rng.permutation(len(y))
        tr, te = perm[:8000], perm[8000:]
        return ImageDataset(name, x[tr], y[tr], x[te], y[te], DATASETS["mnist"],
                            "embedded sample (MNIST test split)", list(range(10)))
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}, mnist-sample")
    roots = [data_dir, os.environ.get("LATENTATLAS_DATA")]
    for root in roots:
        if not root:
            continue
        for folder in (Path(root) / name, Path(root)):
            paths = {k: _find(folder, v) for k, v in FILES.items()}
            if all(paths.values()):
                arrays = {k: read_idx(p) for k, p in paths.items()}
                return ImageDataset(name, arrays["x_train"], arrays["y_train"].astype(np.int64),
                                    arrays["x_test"], arrays["y_test"].astype(np.int64),
                                    DATASETS[name], str(folder), list(range(len(DATASETS[name]))))
    raise UserError(f"dataset {name!r} not found; give --data-dir or set LATENTATLAS_DATA")
