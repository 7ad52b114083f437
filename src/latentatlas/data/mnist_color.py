"""mnist-color: MNIST with each digit's strokes tinted by a seeded random hue.

Each image gets one hue h drawn uniformly from [0, 1); its pixels become
grey * HSV(h, 1, 1), a fully saturated colour scaled by the grey level, so
the background stays black and the stroke keeps its shape. The hues come
from fixed seeds (one stream per split), so mnist-color is one fixed
dataset wherever the MNIST files are found. The hue is kept per image as a
factor of variation (`factors_train["hue"]`), for the analysis to probe: a
code that represents this dataset has to carry the digit and the colour.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import UserError
from .entry import DataRequest, DatasetEntry

HUE_SEED = 15               # fixed: changing it makes a different dataset
_STREAMS = {"train": 0, "test": 1}
BUILT_FROM = "mnist"        # the dataset whose files it is made of
_CHUNK = 1024               # images tinted at a time: a float32 temporary of ~10 MB stays in cache


def hues(n: int, split: str) -> np.ndarray:
    """(n,) float64 hues in [0, 1) for the split's images, from the fixed seed."""
    return np.random.default_rng([HUE_SEED, _STREAMS[split]]).random(n)


def hue_to_rgb(hue: np.ndarray) -> np.ndarray:
    """(N,) hues -> (N, 3) RGB in [0, 1] of HSV(hue, 1, 1) (as colorsys.hsv_to_rgb)."""
    h6 = np.asarray(hue, dtype=np.float64)[:, None] * 6.0
    # Each channel is a trapezoid over the hue circle: red peaks at 0, green at 1/3, blue at 2/3.
    r = np.abs(h6 - 3.0) - 1.0
    g = 2.0 - np.abs(h6 - 2.0)
    b = 2.0 - np.abs(h6 - 4.0)
    return np.clip(np.concatenate([r, g, b], axis=1), 0.0, 1.0)


def tint(grey: np.ndarray, hue: np.ndarray) -> np.ndarray:
    """Grey images (N, H, W) or (N, 1, H, W) uint8 -> (N, 3, H, W) uint8, stroke colour HSV(hue, 1, 1)."""
    grey = grey.reshape(len(grey), *grey.shape[-2:])                  # (N, H, W)
    rgb = hue_to_rgb(hue).astype(np.float32)[:, :, None, None]        # (N, 3, 1, 1)
    out = np.empty((len(grey), 3, *grey.shape[1:]), dtype=np.uint8)
    for lo in range(0, len(grey), _CHUNK):
        part = grey[lo:lo + _CHUNK, None].astype(np.float32) * rgb[lo:lo + _CHUNK]   # (B, 3, H, W)
        part += 0.5                    # rounds on the cast below; stays <= 255.5 as rgb <= 1
        out[lo:lo + _CHUNK] = part
    return out


def colourise(ds):
    """The MNIST ImageDataset `ds` as mnist-color: tinted images and the hue per image."""
    h_tr, h_te = hues(len(ds.y_train), "train"), hues(len(ds.y_test), "test")
    return replace(ds, name="mnist-color",
                   x_train=tint(ds.x_train, h_tr), x_test=tint(ds.x_test, h_te),
                   factors_train={"hue": h_tr}, factors_test={"hue": h_te},
                   source=f"{ds.source}, strokes tinted by seeded random hues (seed {HUE_SEED})")


def _load(req: DataRequest):
    from .mnist import load_named

    try:
        return colourise(load_named(BUILT_FROM, req.data_dir, req.download, req.timeout))
    except UserError as exc:
        raise UserError(f"mnist-color is built from the MNIST files: {exc}") from None


ENTRY = DatasetEntry(
    "mnist-color", "MNIST with strokes tinted by a seeded random hue per image (built from mnist)",
    _load, channels=3, image_size=28, class_names=tuple(str(d) for d in range(10)), built_from=BUILT_FROM)
