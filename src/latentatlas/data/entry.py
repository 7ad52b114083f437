"""One dataset's registry entry: what it is, how it loads, where its files come from.

Each dataset module contributes its entry (mnist.py: mnist, fashion-mnist, mnist-sample;
cifar.py: cifar10; svhn.py: svhn; mnist_color.py: mnist-color; images.py: folder:PATH,
npz:PATH) and registry.REGISTRY holds them all, in the order `data list` shows them.
Code outside data/ asks an entry (an attribute) instead of testing a dataset's name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

@dataclass(frozen=True)
class DataRequest:
    """What `load_dataset` was asked for; each loader reads the fields it needs."""

    name: str                    # as given: "mnist", "folder:/data/pets"
    data_dir: Any = None         # --data-dir (None or "": search elsewhere, then download)
    download: bool = True        # may fetch from the official site
    test_fraction: float = 0.2   # the seeded split of data without one of its own
    split_seed: int = 0
    image_size: int | None = None
    color: str = "auto"
    fit: str = "crop"
    strict_images: bool = False  # folder:PATH: refuse a folder holding files that cannot be used
    timeout: float | None = None   # seconds on a silent mirror (None: the download's default)


@dataclass(frozen=True)
class DatasetEntry:
    """One dataset. `loader(DataRequest) -> ImageDataset` reads it at its own size and colour
    (load_dataset then applies classes, image_size and color to every dataset alike)."""

    # What it is
    name: str                        # its name in settings; "folder:PATH": a prefix, then a path
    description: str                 # one line, for `data list`
    loader: Callable[[DataRequest], Any]
    channels: int | None             # 1 grey, 3 RGB; None: as the user's files are
    image_size: int | None           # side of its square images; None: as the user's files are
    class_names: tuple[str, ...] = ()                            # in label order; () when files name them
    # Its files
    files: Mapping[str, str] = field(default_factory=dict)       # split key -> file name as published
    checksums: Mapping[str, str] = field(default_factory=dict)   # file name -> SHA-256, as `store` checks
    urls: tuple[str, ...] = ()       # official base URLs, tried in order: <base><file name>
    store: str | None = None         # the module in latentatlas.data that locates, downloads and
                                     # verifies them: "sources" (IDX files) or "archives"
    built_from: str | None = None    # the entry whose files it is made of: fetch, verify and
                                     # `data list` go to those (mnist-color, mnist-sample: mnist)
    embedded: Mapping[str, Path] = field(default_factory=dict)   # split key -> file shipped in the package
    # How other code treats it
    fallback: str | None = None      # the embedded entry the demo uses when this one is neither
                                     # found nor downloadable (load_dataset_or_sample)
    takes_path: bool = False         # named by a prefix and a path: folder:PATH, npz:PATH
    # The data settings that read it as runs written before colour support did (a run's
    # config.json without `color` means these), and so the reason its later settings at their
    # defaults (color auto, fit crop) are other data, kept in a run's fingerprint.
    before_colour: Mapping[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        """The name's prefix for a dataset named by a path ("folder:" for folder:PATH), else ""."""
        return self.name.partition(":")[0] + ":" if self.takes_path else ""

    def store_module(self):
        """The module that locates, downloads and verifies this entry's own files (None if it has none)."""
        return importlib.import_module(f"latentatlas.data.{self.store}") if self.store else None
