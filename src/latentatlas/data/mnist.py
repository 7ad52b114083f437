"""MNIST and Fashion-MNIST (four IDX files each) and the embedded MNIST sample: their entries.

    mnist            MNIST digits, 60,000 / 10,000 images 28x28 (its own split)
    fashion-mnist    Fashion-MNIST, same sizes, 10 clothing classes (its own split)
    mnist-sample     the 10,000 MNIST test images embedded in the package,
                     split 8,000 / 2,000 with a seeded permutation (test_fraction 0.2)

Where the files are found, fetched and verified: sources.py; the file format: idx.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError
from . import ImageDataset, sources
from .entry import DataRequest, DatasetEntry
from .idx import read_idx
from .sources import FILES, locate, not_found_message
from .split import seeded_split

SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_FILES = {"x": SAMPLE_DIR / "t10k-images-idx3-ubyte.gz", "y": SAMPLE_DIR / "t10k-labels-idx1-ubyte.gz"}

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Named IDX datasets: class names in label order.
CLASS_NAMES = {"mnist": MNIST_CLASSES, "fashion-mnist": FASHION_CLASSES}


def read_idx_pair(x_path: Path, y_path: Path, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, H, W) uint8 and labels (N,) int64, checked against each other."""
    x = read_idx(x_path, ndim=3)
    y = read_idx(y_path, ndim=1)
    if x.dtype != np.uint8 or y.dtype != np.uint8:
        bad = x_path if x.dtype != np.uint8 else y_path
        raise UserError(f"{bad}: holds {(x if bad == x_path else y).dtype} values, expected unsigned bytes")
    if len(x) != len(y):
        raise UserError(f"{y_path}: holds {len(y)} labels but {x_path.name} holds {len(x)} images; "
                        "the label and image files must come from the same split")
    if len(y) and int(y.max()) >= n_classes:
        raise UserError(f"{y_path}: label {int(y.max())} is out of range (this dataset has "
                        f"{n_classes} classes, labels 0..{n_classes - 1})")
    return x, y.astype(np.int64)


def _check_identity(name: str, paths: dict[str, Path]) -> None:
    """Refuse another known dataset's files under this name (e.g. Fashion-MNIST files in ROOT/
    when asking for mnist). Label files are small, so their checksums cost about a millisecond."""
    for key in ("y_train", "y_test"):
        digest = sources.sha256_decompressed(paths[key])
        for other, table in sources.SHA256.items():
            if other != name and table.get(FILES[key]) == digest:
                raise UserError(f"{paths[key]}: these are the {other} files, not {name}; "
                                f"point --data-dir / $LATENTATLAS_DATA at a folder holding {name} "
                                f"(ROOT/{name}/ is searched before ROOT/)")


def load_idx_folder(name: str, paths: dict[str, Path], source: str) -> ImageDataset:
    """The dataset `name` from its four IDX files (`paths`: split key -> file)."""
    names = CLASS_NAMES[name]
    _check_identity(name, paths)
    x_tr, y_tr = read_idx_pair(paths["x_train"], paths["y_train"], len(names))
    x_te, y_te = read_idx_pair(paths["x_test"], paths["y_test"], len(names))
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise UserError(f"{paths['x_test']}: images are {x_te.shape[1:]} but the training images are "
                        f"{x_tr.shape[1:]}; the files come from different datasets")
    # IDX images are grey (N, H, W): give them the channel axis every stage expects.
    return ImageDataset(name, x_tr[:, None], y_tr, x_te[:, None], y_te, list(names), source,
                        list(range(len(names))))


def not_in_data_dir(name: str, data_dir, looked: list[str]) -> UserError:
    return UserError(f"dataset {name!r} not found in --data-dir {data_dir} "
                     f"(looked in: {'; '.join(looked)}); put the four IDX files "
                     f"({', '.join(s + '[.gz]' for s in FILES.values())}) there, "
                     "or leave out --data-dir to search elsewhere and download")


def load_named(name: str, data_dir, download_ok: bool, timeout: float | None = None) -> ImageDataset:
    """mnist or fashion-mnist: found (search order in sources.py), else downloaded when allowed."""
    loc = locate(name, data_dir)
    if not loc.found:
        if data_dir is not None and str(data_dir) != "":
            raise not_in_data_dir(name, data_dir, loc.looked)
        error = None
        if download_ok:
            try:
                loc = sources.download(name, **({"timeout": timeout} if timeout else {}))
            except UserError as exc:
                error = str(exc)
        if not loc.found:
            raise UserError(not_found_message(name, loc.looked, error))
    return load_idx_folder(name, loc.paths, f"{loc.folder} ({loc.where})")


def load_sample(test_fraction: float = 0.2, split_seed: int = 0) -> ImageDataset:
    x, y = read_idx_pair(SAMPLE_FILES["x"], SAMPLE_FILES["y"], 10)
    tr, te = seeded_split(len(y), test_fraction, split_seed)
    x = x[:, None]                                       # (N, 1, H, W)
    return ImageDataset("mnist-sample", x[tr], y[tr], x[te], y[te], list(MNIST_CLASSES),
                        f"embedded sample {SAMPLE_DIR} (MNIST test split, seeded "
                        f"{len(tr)}/{len(te)} split, seed {split_seed})", list(range(10)))


def load_or_sample(data_dir, download: bool, timeout: float, test_fraction: float = 0.2,
                   split_seed: int = 0) -> tuple[ImageDataset, str]:
    """(full MNIST when found or fetched, else the embedded sample; a note saying which).

    Only "not found / cannot download" falls back; a corrupt file found on the way is still an
    error. An explicit data_dir without the files is an error too, not a reason to fall back."""
    explicit = data_dir is not None and str(data_dir) != ""
    loc = locate("mnist", data_dir)
    if explicit and not loc.found:
        raise not_in_data_dir("mnist", data_dir, loc.looked)
    if loc.found:
        return (load_idx_folder("mnist", loc.paths, f"{loc.folder} ({loc.where})"),
                f"using the full MNIST dataset from {loc.folder}")
    error = "download not attempted"
    if download:
        try:
            loc = sources.download("mnist", timeout=timeout)
        except UserError as exc:
            error = str(exc)
    if loc.found:
        return (load_idx_folder("mnist", loc.paths, f"{loc.folder} ({loc.where})"),
                f"using the full MNIST dataset, downloaded to {loc.folder}")
    ds = load_sample(test_fraction, split_seed)
    return ds, ("full MNIST not found or downloadable "
                f"({error if len(error) < 200 else error[:200] + '...'}); "
                f"using the embedded sample instead: {len(ds.y_train)} training and "
                f"{len(ds.y_test)} test images from the MNIST test split "
                "(give --data-dir or set $LATENTATLAS_DATA for the full dataset)")


def _load_named_request(req: DataRequest) -> ImageDataset:
    return load_named(req.name, req.data_dir, req.download, req.timeout)


def _load_sample_request(req: DataRequest) -> ImageDataset:
    return load_sample(req.test_fraction, req.split_seed)


def _idx_entry(name: str, description: str, **more) -> DatasetEntry:
    return DatasetEntry(name, description, _load_named_request, channels=1, image_size=28,
                        class_names=tuple(CLASS_NAMES[name]), files=dict(FILES),
                        checksums=sources.SHA256[name], urls=tuple(sources.MIRRORS[name]), store="sources",
                        **more)


ENTRIES = [
    _idx_entry("mnist", "MNIST handwritten digits (LeCun, Cortes, Burges), 60k/10k 28x28, CC BY-SA 3.0",
               fallback="mnist-sample"),
    _idx_entry("fashion-mnist", "Fashion-MNIST (Zalando Research), 60k/10k 28x28, 10 clothing classes, MIT"),
    DatasetEntry("mnist-sample", "embedded: the 10k MNIST test images, seeded 8000/2000 split, CC BY-SA 3.0",
                 _load_sample_request, channels=1, image_size=28, class_names=tuple(MNIST_CLASSES),
                 files={"x_test": FILES["x_test"], "y_test": FILES["y_test"]},
                 checksums={FILES[k]: sources.SHA256["mnist"][FILES[k]] for k in ("x_test", "y_test")},
                 built_from="mnist",   # the MNIST test split: same files, same checksums
                 embedded={"x_test": SAMPLE_FILES["x"], "y_test": SAMPLE_FILES["y"]}),
]
