"""User data: a folder of images (one sub-folder per class) or an .npz file; their entries.

    folder:PATH   PATH/<class>/<image>.png|jpg|bmp|gif|tif|webp, colour kept (color=auto),
                  brought to image_size (28) by centre crop or pad (fit)
    npz:PATH      arrays x (N,H,W), (N,H,W,C) or (N,C,H,W) with C = 1 or 3, y (N,),
                  optional class_names, layout, x_test/y_test (else a seeded split)

Both end as uint8 (N, C, H, W) images (C = 1 grey or 3 RGB) with int64 labels 0..k-1, like
the built-in datasets, so everything downstream treats them alike. The reading is split by
concern: image_folder.py (folders: modes, colour, size), npz.py (arrays), resize.py (the
resizing of whole arrays); their names are importable from here as before.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import UserError
from . import ImageDataset
from .entry import DataRequest, DatasetEntry
from .image_folder import (DEFAULT_IMAGE_SIZE, FIT_RULES, IMAGE_SUFFIXES, LEGACY_FIT,  # noqa: F401
                           LEGACY_SUFFIXES, PAD_COLOUR, describe_unusable, load_image_folder, read_image_folder)
from .npz import load_npz
from .resize import check_image_size, resize_images  # noqa: F401
from .split import seeded_split


def _user_dataset(req: DataRequest, read) -> ImageDataset:
    """The dataset at the path after the prefix, read by `read(path, req)` -> (x, y, x_test|None,
    y_test|None, class names, note); split by seed when the data has no test part of its own."""
    kind, _, path = req.name.partition(":")
    if not path:
        raise UserError(f"dataset {req.name!r} needs a path after '{kind}:', e.g. {kind}:/data/my_images")
    x, y, x_te, y_te, names, note, *unusable = read(path, req)
    if x_te is None:
        tr, te = seeded_split(len(y), req.test_fraction, req.split_seed)
        x, y, x_te, y_te = x[tr], y[tr], x[te], y[te]
        split = f"seeded split, test fraction {req.test_fraction}, seed {req.split_seed}"
    else:
        split = "its own train/test split"
    source = f"{Path(path).expanduser()} ({split})" + (f"; {note}" if note else "")
    return ImageDataset(req.name, x, y, x_te, y_te, names, source, list(range(len(names))),
                        unusable=unusable[0] if unusable else [])


_warned: set[tuple] = set()     # (folder, unusable files) already warned about in this process


def _warn_unusable(path: str, unusable: list[dict]) -> None:
    """One warning line per folder and process (every stage reads the data: one line is enough)."""
    seen = (str(Path(path).expanduser().resolve()), tuple(b["path"] for b in unusable))
    if unusable and seen not in _warned:
        _warned.add(seen)
        print(f"latentatlas: warning: {path}: {describe_unusable(unusable)}; skipped (the report lists them; "
              "--strict-images refuses such a folder)", file=sys.stderr, flush=True)


def _read_folder(path: str, req: DataRequest):
    # colour and size are settled per image as it is read (to_color then has nothing to do)
    r = read_image_folder(path, req.image_size, color=req.color, fit=req.fit, strict=req.strict_images)
    _warn_unusable(path, r.unusable)
    return r.x, r.y, None, None, r.class_names, r.note, r.unusable


def _read_npz(path: str, req: DataRequest):
    return (*load_npz(path), "")


def load_folder_dataset(req: DataRequest) -> ImageDataset:
    return _user_dataset(req, _read_folder)


def load_npz_dataset(req: DataRequest) -> ImageDataset:
    return _user_dataset(req, _read_npz)


ENTRIES = [
    DatasetEntry("folder:PATH", "your images, one sub-folder per class (PNG/JPEG/BMP/GIF/TIFF/WebP)",
                 load_folder_dataset, channels=None, image_size=None, takes_path=True,
                 # folders were read grey, PNG/JPEG only, stretched to size before colour support
                 before_colour={"color": "grey", "fit": LEGACY_FIT}),
    DatasetEntry("npz:PATH", "your arrays: x (N,H,W), (N,H,W,C) or (N,C,H,W), y (N,), optional class_names",
                 load_npz_dataset, channels=None, image_size=None, takes_path=True),
]
