"""Datasets: IDX files, where they are found, class subsets, user images.

Public API (stable; other stages code against it):

    load_dataset(name, data_dir=None, classes=None, image_size=None,
                 test_fraction=0.2, split_seed=0, download=True,
                 color="auto", fit="crop", strict_images=False) -> ImageDataset
    load_dataset_or_sample(data_dir=None, ...) -> (ImageDataset, note)
        full MNIST when found or fetched, else the embedded sample; the note says which
    parse_classes("1,4,8") -> ["1", "4", "8"]
    describe_dataset(ds, note=None) -> dict      shapes, class counts, pixel range, source
                                                 (for metrics.json["data"])
    ImageDataset: x_train/x_test uint8 (N, C, H, W), C = 1 (grey) or 3 (RGB);
                  y_train/y_test int64 0..k-1; class_names (after any subset);
                  source (where it was read from); original_labels (label in the
                  full dataset, per class); factors_train/factors_test (per-image
                  factors of variation such as mnist-color's hue, name -> (N,) floats)

    REGISTRY: name -> DatasetEntry (entry.py): description, loader, channels, image size,
              class names, files, checksums, URLs, and what other code asks of a dataset

Modules: entry (DatasetEntry), registry (REGISTRY, load_dataset), one per dataset kind with
its entries: mnist (mnist, fashion-mnist, mnist-sample), cifar, svhn, mnist_color, images
(folder:PATH, npz:PATH; reading in image_folder, npz, resize); idx (IDX read/write), sources
(the IDX files' locate, download, verify), archives (the same for cifar10 and svhn), subset, split.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ImageDataset:
    name: str                 # registry name, e.g. "mnist", "mnist-sample", "folder:/path"
    x_train: np.ndarray       # (N, C, H, W) uint8, levels 0..255; C = 1 grey, 3 RGB
    y_train: np.ndarray       # (N,) int64, labels 0..k-1
    x_test: np.ndarray        # (M, C, H, W) uint8
    y_test: np.ndarray        # (M,) int64
    class_names: list[str]    # k names, index = label
    source: str               # human-readable: the folder or file it was read from
    original_labels: list[int] = field(default_factory=list)  # label in the full dataset, per class
    # Known factors of variation per image (mnist-color: "hue" in [0, 1)), aligned with x/y;
    # the analysis probes how much of each the codes carry.
    factors_train: dict[str, np.ndarray] = field(default_factory=dict)
    factors_test: dict[str, np.ndarray] = field(default_factory=dict)
    # Files of a folder:PATH dataset that could not be used and were skipped:
    # {"path" (relative to the folder), "reason", "detail"}
    unusable: list[dict] = field(default_factory=list)

    def __post_init__(self):
        for key in ("x_train", "x_test"):
            x = getattr(self, key)
            if x.ndim != 4 or x.shape[1] not in (1, 3):
                raise ValueError(f"ImageDataset.{key} must be (N, C, H, W) with C = 1 or 3, got {x.shape}")

    @property
    def image_shape(self) -> tuple[int, int]:
        """(H, W)."""
        return tuple(self.x_train.shape[2:4])

    @property
    def channels(self) -> int:
        """1 for grey, 3 for RGB."""
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


from .registry import DATASETS, KNOWN, REGISTRY, load_dataset, load_dataset_or_sample  # noqa: E402,F401
from .subset import parse_classes  # noqa: E402,F401
from .summary import describe_dataset  # noqa: E402,F401
