"""Image grids and animated GIFs, written with Pillow (no matplotlib needed).

Images come in as float arrays in [0, 1] (or uint8), shape (N, H, W) or
(N, 1, H, W); grids are tiled row-major with a thin separating border.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..rundir import atomic_save


def _to_uint8(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 4:  # (N, 1, H, W) -> (N, H, W)
        images = images[:, 0]
    if images.dtype != np.uint8:
        images = (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return images


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile (N, H, W) images into one (rows*(H+pad)+pad, cols*(W+pad)+pad) uint8 array."""
    images = _to_uint8(images)
    n, h, w = images.shape
    cols = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def _upscale(arr: np.ndarray, scale: int):
    from PIL import Image

    img = Image.fromarray(arr, mode="L")
    if scale > 1:
        img = img.resize((arr.shape[1] * scale, arr.shape[0] * scale), Image.NEAREST)
    return img


def save_grid_png(path: str | Path, images: np.ndarray, nrow: int | None = None, scale: int = 2) -> Path:
    """Write a grid of images as a PNG (nearest-neighbour upscaled so pixels stay crisp)."""
    img = _upscale(make_grid(images, nrow), scale)
    atomic_save(path, lambda tmp: img.save(tmp, format="PNG"))
    return Path(path)


def save_gif(path: str | Path, frames: Sequence[np.ndarray], duration_ms: int = 120,
             scale: int = 2, loop: int = 0) -> Path:
    """Write frames (each a 2-D uint8/float image or an already tiled grid) as an animated GIF."""
    if len(frames) == 0:
        raise ValueError("save_gif needs at least one frame")
    pil = [_upscale(_to_uint8(np.asarray(f)[None])[0], scale) for f in frames]
    atomic_save(path, lambda tmp: pil[0].save(tmp, format="GIF", save_all=True, append_images=pil[1:],
                                              duration=duration_ms, loop=loop))
    return Path(path)
