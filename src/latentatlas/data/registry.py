"""The table of known datasets, REGISTRY, and `load_dataset`, the one entry point every stage uses.

Names (each module contributes its entries, data/entry.py says what an entry holds):
    mnist            MNIST digits, 60,000 / 10,000 images 28x28 (its own split)          mnist.py
    fashion-mnist    Fashion-MNIST, same sizes, 10 clothing classes (its own split)      mnist.py
    mnist-sample     the 10,000 MNIST test images embedded in the package,               mnist.py
                     split 8,000 / 2,000 with a seeded permutation (test_fraction 0.2)
    cifar10          CIFAR-10, 50,000 / 10,000 colour images 32x32 (binary version)      cifar.py
    svhn             SVHN cropped digits, 73,257 / 26,032 colour images 32x32, label = digit   svhn.py
    mnist-color      MNIST with each digit tinted by a seeded random hue                 mnist_color.py
    folder:PATH      PATH/<class>/<image>.png|jpg|bmp|gif|tif|webp, colour kept (color=auto),
                     brought to image_size (28) by centre crop or pad (fit)              images.py
    npz:PATH         arrays x (N,H,W), (N,H,W,C) or (N,C,H,W) with C = 1 or 3, y (N,),   images.py
                     optional class_names, layout, x_test/y_test (else a seeded split)

Code here and outside data/ looks a dataset up (`entry_for`) and reads its entry's attributes;
nothing branches on a dataset's name or kind.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import UserError
from . import ImageDataset, cifar, images, mnist, mnist_color, svhn
from .entry import DataRequest, DatasetEntry
from .mnist import (FASHION_CLASSES, MNIST_CLASSES, SAMPLE_DIR, SAMPLE_FILES,  # noqa: F401
                    load_sample, read_idx_pair)
from .resize import check_image_size, resize_images
from .split import check_test_fraction
from .subset import select_classes

# In the order `data list` and the error messages name them.
REGISTRY: dict[str, DatasetEntry] = {e.name: e for e in (*mnist.ENTRIES, cifar.ENTRY, svhn.ENTRY,
                                                         mnist_color.ENTRY, *images.ENTRIES)}

# Derived views, for callers of the lists this table replaced.
KNOWN = [n for n, e in REGISTRY.items() if not e.takes_path]          # named whole (no PATH)
DATASETS = {n: list(e.class_names) for n, e in REGISTRY.items() if e.store == "sources"}   # IDX: class names
DESCRIPTIONS = {n: REGISTRY[n].description for n in KNOWN}
COLOUR_DATASETS = [n for n, e in REGISTRY.items() if e.channels == 3]
FALLBACK_TIMEOUT = 5.0   # seconds: a machine without network falls back to the sample quickly


def entry_for(name) -> DatasetEntry | None:
    """The entry of a dataset name ("mnist", "folder:/data/pets"); None when none matches."""
    if not isinstance(name, str):
        return None
    entry = REGISTRY.get(name)
    if entry is not None and not entry.takes_path:
        return entry
    prefix, sep, _ = name.partition(":")
    return next((e for e in REGISTRY.values() if sep and e.prefix == prefix + sep), None)


def known_names() -> str:
    return ", ".join(REGISTRY)


def _or_list(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else "".join(names)


def _files_entry(entry: DatasetEntry | None) -> DatasetEntry | None:
    """The entry whose files `entry` reads (its own, or those it is built from); None if it has none."""
    if entry is None:
        return None
    files = REGISTRY.get(entry.built_from or entry.name)
    return files if files is not None and files.store else None


def downloadable_names() -> list[str]:
    """Datasets `data fetch` can download (itself or the files it is built from)."""
    return [n for n, e in REGISTRY.items() if not e.embedded and _files_entry(e) is not None]


def _finish(ds: ImageDataset, classes, image_size) -> ImageDataset:
    """Apply a class subset, then resize when a size other than the dataset's is asked for."""
    ds = select_classes(ds, classes)
    if image_size is not None:
        size = check_image_size(image_size)
        if ds.image_shape != (size, size):
            ds = replace(ds, x_train=resize_images(ds.x_train, size), x_test=resize_images(ds.x_test, size),
                         source=f"{ds.source}, resized to {size}x{size}")
    return ds


def load_dataset(name: str, data_dir=None, classes=None, image_size=None,
                 test_fraction: float = 0.2, split_seed: int = 0, download: bool = True,
                 color: str = "auto", fit: str = "crop", strict_images: bool = False) -> ImageDataset:
    """Load a dataset by name; see the module docstring for names and search order.

    classes: labels or class names to keep (list, or "1,4,8"); relabelled 0..k-1.
    image_size: resize to this square size (None keeps the dataset's; folders default to 28).
    test_fraction, split_seed: the seeded split for data without a split of its own.
    download: allow fetching a named dataset from its official site.
    color: "auto" keeps what the files are; "rgb" / "grey" convert to 3 / 1 channels.
    fit: how a folder's images reach image_size: "crop" (centre) or "pad".
    strict_images: a folder holding files that cannot be used is refused (else they are skipped,
        with one warning line, and listed in ImageDataset.unusable).
    """
    if not isinstance(name, str) or not name:
        raise UserError(f"dataset name {name!r} is empty; known: {known_names()}")
    check_test_fraction(test_fraction)
    entry = entry_for(name)
    if entry is None:
        raise UserError(f"unknown dataset {name!r}; known: {known_names()}")
    ds = entry.loader(DataRequest(name, data_dir=data_dir, download=download, test_fraction=test_fraction,
                                  split_seed=split_seed, image_size=image_size, color=color, fit=fit,
                                  strict_images=strict_images))
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
    """Full MNIST when it can be found or fetched, else the embedded sample (the mnist entry's
    `fallback`); and a note saying which.

    Only "not found / cannot download" falls back; a corrupt file found on the
    way is still an error (the user should hear about it).
    """
    check_test_fraction(test_fraction)
    ds, note = mnist.load_or_sample(data_dir, download, timeout, test_fraction, split_seed)
    return _finish(ds, classes, image_size), note


def dataset_status(name: str, data_dir=None) -> str | None:
    """Where `name` would be read from now (no download), for `data list`; None for a dataset
    named by a path (folder:PATH, npz:PATH), which is wherever the path says."""
    entry = entry_for(name)
    if entry is None or entry.takes_path:
        return None
    if entry.embedded:
        return f"embedded ({next(iter(entry.embedded.values())).parent})"
    files = _files_entry(entry)
    loc = files.store_module().locate(files.name, data_dir)
    if loc.found and files is not entry:
        return f"built from the {files.name} files in {loc.folder} ({loc.where})"
    if loc.found:
        return f"{loc.folder} ({loc.where})"
    return "not found (will be downloaded to the cache when first used)" if not data_dir else "not found"


def fetch_target(name: str):
    """(the dataset whose files `data fetch NAME` downloads, the module that locates and downloads
    them): mnist-color's are mnist's. UserError for a dataset that cannot be downloaded."""
    entry = entry_for(name)
    files = None if entry is None or entry.embedded else _files_entry(entry)
    if files is None:
        embedded = [n for n, e in REGISTRY.items() if e.embedded]
        raise UserError(f"cannot fetch {name!r}: only {_or_list(downloadable_names())} are downloadable "
                        f"({_or_list(embedded)} {'is' if len(embedded) == 1 else 'are'} embedded)")
    return files.name, files.store_module()


def verify_dataset(name: str, data_dir=None) -> tuple[list, int, str, str]:
    """For `data verify`: (results [(path, ok, expected, actual)], files checked, the checksum table's
    dataset, what is hashed). Never downloads; UserError when the files are not found."""
    entry = entry_for(name)
    files = _files_entry(entry)
    if files is None:
        known = [n for n, e in REGISTRY.items() if e.store] + [n for n, e in REGISTRY.items() if e.built_from]
        raise UserError(f"cannot verify {name!r}: checksums are known for {', '.join(known)}")
    store = files.store_module()
    if entry.embedded:
        paths = dict(entry.embedded)     # shipped copies of `files`' files: same checksums
    else:
        loc = store.locate(files.name, data_dir)
        if not loc.found:
            raise UserError(store.not_found_message(files.name, loc.looked, None))
        paths = loc.paths
    return store.verify_files(files.name, paths), len(paths), files.name, store.HASHED


def settings_before_colour(name) -> dict:
    """The data settings that read `name` as runs written before colour support did; {} for a
    dataset those runs read as today (entry.before_colour)."""
    entry = entry_for(name)
    return dict(entry.before_colour) if entry is not None else {}
