"""Known datasets and `load_dataset`, the one entry point every stage uses.

Names:
    mnist            MNIST digits, 60,000 / 10,000 images 28x28 (its own split)
    fashion-mnist    Fashion-MNIST, same sizes, 10 clothing classes (its own split)
    mnist-sample     the 10,000 MNIST test images embedded in the package,
                     split 8,000 / 2,000 with a seeded permutation (test_fraction 0.2)
    cifar10          CIFAR-10, 50,000 / 10,000 colour images 32x32 (binary version; archives.py)
    svhn             SVHN cropped digits, 73,257 / 26,032 colour images 32x32, label = digit
    mnist-color      MNIST with each digit tinted by a seeded random hue (mnist_color.py)
    folder:PATH      PATH/<class>/<image>.png|jpg|bmp|gif|tif|webp, colour kept (color=auto),
                     brought to image_size (28) by centre crop or pad (fit); see data/images.py
    npz:PATH         arrays x (N,H,W), (N,H,W,C) or (N,C,H,W) with C = 1 or 3, y (N,),
                     optional class_names, layout, x_test/y_test (else a seeded split)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import UserError
from . import ImageDataset
from .idx import read_idx
from . import sources
from .sources import FILES, locate, not_found_message
from .split import check_test_fraction, seeded_split
from .subset import select_classes

SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_FILES = {"x": SAMPLE_DIR / "t10k-images-idx3-ubyte.gz", "y": SAMPLE_DIR / "t10k-labels-idx1-ubyte.gz"}

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

# Named IDX datasets: class names in label order.
DATASETS = {
    "mnist": MNIST_CLASSES,
    "fashion-mnist": FASHION_CLASSES,
}
DESCRIPTIONS = {
    "mnist": "MNIST handwritten digits (LeCun, Cortes, Burges), 60k/10k 28x28, CC BY-SA 3.0",
    "fashion-mnist": "Fashion-MNIST (Zalando Research), 60k/10k 28x28, 10 clothing classes, MIT",
    "mnist-sample": "embedded: the 10k MNIST test images, seeded 8000/2000 split, CC BY-SA 3.0",
}
DESCRIPTIONS.update({
    "cifar10": "CIFAR-10 (Krizhevsky, 2009), 50k/10k 32x32 colour, 10 classes, binary version",
    "svhn": "SVHN cropped digits (Netzer et al., 2011), 73k/26k 32x32 colour, non-commercial use",
    "mnist-color": "MNIST with strokes tinted by a seeded random hue per image (built from mnist)",
})
COLOUR_DATASETS = ["cifar10", "svhn", "mnist-color"]
KNOWN = [*DATASETS, "mnist-sample", *COLOUR_DATASETS]
FALLBACK_TIMEOUT = 5.0   # seconds: a machine without network falls back to the sample quickly


def known_names() -> str:
    return ", ".join(KNOWN) + ", folder:PATH, npz:PATH"


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


def _load_idx_folder(name: str, paths: dict[str, Path], source: str) -> ImageDataset:
    names = DATASETS[name]
    _check_identity(name, paths)
    x_tr, y_tr = read_idx_pair(paths["x_train"], paths["y_train"], len(names))
    x_te, y_te = read_idx_pair(paths["x_test"], paths["y_test"], len(names))
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise UserError(f"{paths['x_test']}: images are {x_te.shape[1:]} but the training images are "
                        f"{x_tr.shape[1:]}; the files come from different datasets")
    # IDX images are grey (N, H, W): give them the channel axis every stage expects.
    return ImageDataset(name, x_tr[:, None], y_tr, x_te[:, None], y_te, list(names), source,
                        list(range(len(names))))


def _not_in_data_dir(name: str, data_dir, looked: list[str]) -> UserError:
    return UserError(f"dataset {name!r} not found in --data-dir {data_dir} "
                     f"(looked in: {'; '.join(looked)}); put the four IDX files "
                     f"({', '.join(s + '[.gz]' for s in FILES.values())}) there, "
                     "or leave out --data-dir to search elsewhere and download")


def _load_named(name: str, data_dir, download_ok: bool, timeout: float | None = None) -> ImageDataset:
    loc = locate(name, data_dir)
    if not loc.found:
        if data_dir is not None and str(data_dir) != "":
            raise _not_in_data_dir(name, data_dir, loc.looked)
        error = None
        if download_ok:
            try:
                loc = sources.download(name, **({"timeout": timeout} if timeout else {}))
            except UserError as exc:
                error = str(exc)
        if not loc.found:
            raise UserError(not_found_message(name, loc.looked, error))
    return _load_idx_folder(name, loc.paths, f"{loc.folder} ({loc.where})")


def _load_colour(name: str, data_dir, download_ok: bool) -> ImageDataset:
    """cifar10 and svhn from their published files; mnist-color built from the MNIST files."""
    if name == "mnist-color":
        from .mnist_color import colourise

        try:
            return colourise(_load_named("mnist", data_dir, download_ok))
        except UserError as exc:
            raise UserError(f"mnist-color is built from the MNIST files: {exc}") from None
    from . import archives

    loc = archives.find_or_fetch(name, data_dir, download_ok)
    x_tr, y_tr, x_te, y_te, names = archives.REMOTES[name].read(loc.paths)
    return ImageDataset(name, x_tr, y_tr, x_te, y_te, names, f"{loc.folder} ({loc.where})",
                        list(range(len(names))))


def load_sample(test_fraction: float = 0.2, split_seed: int = 0) -> ImageDataset:
    x, y = read_idx_pair(SAMPLE_FILES["x"], SAMPLE_FILES["y"], 10)
    tr, te = seeded_split(len(y), test_fraction, split_seed)
    x = x[:, None]                                       # (N, 1, H, W)
    return ImageDataset("mnist-sample", x[tr], y[tr], x[te], y[te], list(MNIST_CLASSES),
                        f"embedded sample {SAMPLE_DIR} (MNIST test split, seeded "
                        f"{len(tr)}/{len(te)} split, seed {split_seed})", list(range(10)))


def _load_user(name: str, test_fraction: float, split_seed: int, image_size: int | None,
               color: str = "auto", fit: str = "crop") -> ImageDataset:
    kind, _, path = name.partition(":")
    if not path:
        raise UserError(f"dataset {name!r} needs a path after '{kind}:', e.g. {kind}:/data/my_images")
    note = ""
    if kind == "folder":
        from .images import load_image_folder

        # colour and size are settled per image as it is read (to_color then has nothing to do)
        x, y, names, note = load_image_folder(path, image_size, color=color, fit=fit)
        x_te = y_te = None
    else:
        from .images import load_npz

        x, y, x_te, y_te, names = load_npz(path)
    if x_te is None:
        tr, te = seeded_split(len(y), test_fraction, split_seed)
        x, y, x_te, y_te = x[tr], y[tr], x[te], y[te]
        split = f"seeded split, test fraction {test_fraction}, seed {split_seed}"
    else:
        split = "its own train/test split"
    source = f"{Path(path).expanduser()} ({split})" + (f"; {note}" if note else "")
    return ImageDataset(name, x, y, x_te, y_te, names, source, list(range(len(names))))


def _finish(ds: ImageDataset, classes, image_size) -> ImageDataset:
    """Apply a class subset, then resize when a size other than the dataset's is asked for."""
    ds = select_classes(ds, classes)
    if image_size is not None:
        from .images import check_image_size, resize_images

        size = check_image_size(image_size)
        if ds.image_shape != (size, size):
            ds = replace(ds, x_train=resize_images(ds.x_train, size), x_test=resize_images(ds.x_test, size),
                         source=f"{ds.source}, resized to {size}x{size}")
    return ds


def load_dataset(name: str, data_dir=None, classes=None, image_size=None,
                 test_fraction: float = 0.2, split_seed: int = 0, download: bool = True,
                 color: str = "auto", fit: str = "crop") -> ImageDataset:
    """Load a dataset by name; see the module docstring for names and search order.

    classes: labels or class names to keep (list, or "1,4,8"); relabelled 0..k-1.
    image_size: resize to this square size (None keeps the dataset's; folders default to 28).
    test_fraction, split_seed: the seeded split for data without a split of its own.
    download: allow fetching a named dataset from its official site.
    color: "auto" keeps what the files are; "rgb" / "grey" convert to 3 / 1 channels.
    fit: how a folder's images reach image_size: "crop" (centre) or "pad".
    """
    if not isinstance(name, str) or not name:
        raise UserError(f"dataset name {name!r} is empty; known: {known_names()}")
    check_test_fraction(test_fraction)
    if name in DATASETS:
        ds = _load_named(name, data_dir, download)
    elif name == "mnist-sample":
        ds = load_sample(test_fraction, split_seed)
    elif name in COLOUR_DATASETS:
        ds = _load_colour(name, data_dir, download)
    elif name.startswith(("folder:", "npz:")):
        ds = _load_user(name, test_fraction, split_seed, image_size, color, fit)
    else:
        raise UserError(f"unknown dataset {name!r}; known: {known_names()}")
    return to_color(_finish(ds, classes, image_size), color)


def to_color(ds: ImageDataset, color: str) -> ImageDataset:
    """The dataset with 1 (grey) or 3 (RGB) channels as asked; "auto" keeps its own.

    Grey from RGB uses ITU-R 601 luma (L = 0.299 R + 0.587 G + 0.114 B), as Pillow's "L"."""
    if color == "auto" or (color == "grey") == (ds.channels == 1):
        return ds
    if color not in ("rgb", "grey"):
        raise UserError(f"color {color!r} is not one of auto, rgb, grey")

    def convert(x):
        if color == "rgb":
            return np.repeat(x, 3, axis=1)
        luma = np.tensordot(np.array([0.299, 0.587, 0.114], np.float32), x.astype(np.float32), axes=([0], [1]))
        return np.clip(np.rint(luma), 0, 255).astype(np.uint8)[:, None]

    return replace(ds, x_train=convert(ds.x_train), x_test=convert(ds.x_test),
                   source=f"{ds.source}, converted to {'RGB' if color == 'rgb' else 'grey'}")


def load_dataset_or_sample(data_dir=None, classes=None, image_size=None, test_fraction: float = 0.2,
                           split_seed: int = 0, download: bool = True,
                           timeout: float = FALLBACK_TIMEOUT) -> tuple[ImageDataset, str]:
    """Full MNIST when it can be found or fetched, else the embedded sample; and a note saying which.

    Only "not found / cannot download" falls back; a corrupt file found on the
    way is still an error (the user should hear about it).
    """
    check_test_fraction(test_fraction)
    explicit = data_dir is not None and str(data_dir) != ""
    loc = locate("mnist", data_dir)
    if explicit and not loc.found:
        # The user pointed at a folder: a wrong folder is an error, not a reason to fall back.
        raise _not_in_data_dir("mnist", data_dir, loc.looked)
    if loc.found:
        ds = _load_idx_folder("mnist", loc.paths, f"{loc.folder} ({loc.where})")
        note = f"using the full MNIST dataset from {loc.folder}"
    else:
        error = "download not attempted"
        if download:
            try:
                loc = sources.download("mnist", timeout=timeout)
            except UserError as exc:
                error = str(exc)
        if loc.found:
            ds = _load_idx_folder("mnist", loc.paths, f"{loc.folder} ({loc.where})")
            note = f"using the full MNIST dataset, downloaded to {loc.folder}"
        else:
            ds = load_sample(test_fraction, split_seed)
            note = ("full MNIST not found or downloadable "
                    f"({error if len(error) < 200 else error[:200] + '...'}); "
                    f"using the embedded sample instead: {len(ds.y_train)} training and "
                    f"{len(ds.y_test)} test images from the MNIST test split "
                    "(give --data-dir or set $LATENTATLAS_DATA for the full dataset)")
    return _finish(ds, classes, image_size), note


def dataset_status(name: str, data_dir=None) -> str:
    """Where `name` would be read from now (no download): for `data list`."""
    if name == "mnist-sample":
        return f"embedded ({SAMPLE_DIR})"
    if name in ("cifar10", "svhn"):
        from . import archives

        loc = archives.locate(name, data_dir)
    else:
        loc = locate("mnist" if name == "mnist-color" else name, data_dir)
        if name == "mnist-color" and loc.found:
            return f"built from the mnist files in {loc.folder} ({loc.where})"
    if loc.found:
        return f"{loc.folder} ({loc.where})"
    return "not found (will be downloaded to the cache when first used)" if not data_dir else "not found"

