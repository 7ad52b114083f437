"""SVHN, cropped digits (format 2): reading `train_32x32.mat` and `test_32x32.mat`.

Format (http://ufldl.stanford.edu/housenumbers/): MATLAB v5 files, each with
`X` of shape (32, 32, 3, N) uint8 (height, width, RGB, image) and `y` of
shape (N, 1) with labels 1..10, where 10 is the digit 0. We read them with
SciPy and return channel-first images (N, 3, 32, 32) and the digit itself as
the label (10 -> 0), so class k is the digit k, as for MNIST.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError
from .archives import Remote, load_remote, register
from .entry import DataRequest, DatasetEntry

FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
CLASS_NAMES = [str(d) for d in range(10)]
FIX_HINT = "replace it with a good copy (or delete it and run `latentatlas data fetch svhn`)"
# SHA-256 of the published files, from TensorFlow Datasets' download checksums
# (github.com/tensorflow/datasets, tensorflow_datasets/url_checksums/svhn_cropped.txt;
# 182,040,794 / 64,275,384 bytes).
SHA256 = {
    "train_32x32.mat": "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8",
    "test_32x32.mat": "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b",
}
MIRRORS = ("http://ufldl.stanford.edu/housenumbers/",)
WANTED = "train_32x32.mat and test_32x32.mat"   # what to put in a folder, in messages


def find_svhn(folder: Path) -> tuple[dict[str, Path], str]:
    """({"train": path, "test": path}, "found") when `folder` holds both files; else ({}, why not)."""
    if not folder.is_dir():
        return {}, "no such folder"
    paths = {k: folder / f for k, f in FILES.items() if (folder / f).is_file()}
    if len(paths) == len(FILES):
        return paths, "found"
    if not paths:
        return {}, "no SVHN .mat files"
    return {}, f"incomplete, missing {', '.join(f for k, f in FILES.items() if k not in paths)}"


def _load_mat(path: Path) -> dict:
    from scipy.io import loadmat

    if not path.is_file():
        raise UserError(f"{path}: file not found" if not path.exists() else f"{path}: is not a file")
    try:
        return loadmat(path, variable_names=["X", "y"])
    except MemoryError:
        raise
    except Exception as exc:   # SciPy raises ValueError, TypeError, OSError, ... for a damaged file
        raise UserError(f"{path}: not a readable MATLAB file ({type(exc).__name__}: {exc}); "
                        f"{FIX_HINT}") from None


def read_svhn_mat(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, H, W) uint8 and digit labels (N,) int64 from one SVHN .mat file."""
    path = Path(path)
    mat = _load_mat(path)
    missing = [k for k in ("X", "y") if k not in mat]
    if missing:
        raise UserError(f"{path}: has no {' or '.join(repr(k) for k in missing)} array; an SVHN cropped-digits "
                        f"file holds X (32, 32, 3, N) and y (N, 1); {FIX_HINT}")
    x, y = np.asarray(mat["X"]), np.asarray(mat["y"])
    if x.ndim != 4 or x.shape[2] != 3 or x.dtype != np.uint8:
        raise UserError(f"{path}: X is {x.dtype} {x.shape}, expected uint8 (32, 32, 3, N); {FIX_HINT}")
    if y.size != x.shape[3] or y.ndim > 2 or (y.ndim == 2 and 1 not in y.shape):
        raise UserError(f"{path}: y has shape {y.shape} for {x.shape[3]} images, expected "
                        f"({x.shape[3]}, 1); {FIX_HINT}")
    y = y.reshape(-1)
    if not np.issubdtype(y.dtype, np.number) or not np.all((y >= 0) & (y <= 10) & (y == np.round(y))):
        raise UserError(f"{path}: y holds values other than the labels 1..10; {FIX_HINT}")
    labels = y.astype(np.int64) % 10   # SVHN writes the digit 0 as label 10
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), labels   # (H, W, C, N) -> (N, C, H, W)


def read_svhn(paths: dict[str, Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """x_train, y_train, x_test, y_test, class names "0".."9" from the two files."""
    x_tr, y_tr = read_svhn_mat(paths["train"])
    x_te, y_te = read_svhn_mat(paths["test"])
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise UserError(f"{paths['test']}: images are {x_te.shape[2:]} but the training images are "
                        f"{x_tr.shape[2:]}; the files come from different datasets")
    return x_tr, y_tr, x_te, y_te, list(CLASS_NAMES)


def _load(req: DataRequest):
    return load_remote(req.name, req.data_dir, req.download, req.timeout)


ENTRY = DatasetEntry(
    "svhn", "SVHN cropped digits (Netzer et al., 2011), 73k/26k 32x32 colour, non-commercial use",
    _load, channels=3, image_size=32, class_names=tuple(CLASS_NAMES), files=FILES, checksums=SHA256,
    urls=MIRRORS, store="archives")

REMOTE = register("svhn", Remote(dict(ENTRY.files), MIRRORS, find_svhn, read_svhn, WANTED), SHA256)
