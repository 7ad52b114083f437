"""Image grids and animated GIFs, written with Pillow (no matplotlib needed).

Images come in channel-first, as float arrays in [0, 1] or uint8: (N, C, H, W) with
C = 1 (grey) or 3 (RGB), or grey (N, H, W). Grids are tiled row-major with a thin white
border; grey grids are written as mode-L images, colour ones as RGB
(`latentatlas.figures.pixels` does the conversion). Upscaling is nearest-neighbour,
so pixels stay crisp at any image size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..rundir import atomic_save
from .pixels import channels_last, displayable, pil_image, same_mode, to_uint8


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2, pad_value: int = 255) -> np.ndarray:
    """Tile (N, C, H, W) or (N, H, W) images into one uint8 array of (rows*(H+pad)+pad,
    cols*(W+pad)+pad) for grey, with a trailing RGB axis (..., 3) for colour."""
    images = displayable(images, stack_dims=1)                 # (N, H, W) or (N, H, W, 3) uint8
    n, h, w = images.shape[:3]
    cols = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, *images.shape[3:]), pad_value, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def _upscale(arr: np.ndarray, scale: int):
    """A drawn uint8 (H, W) or (H, W, 3) array -> a Pillow image, `scale` times larger (nearest)."""
    from PIL import Image

    img = pil_image(arr)
    if scale > 1:
        img = img.resize((arr.shape[1] * scale, arr.shape[0] * scale), Image.NEAREST)
    return img


def save_grid_png(path: str | Path, images: np.ndarray, nrow: int | None = None, scale: int = 2) -> Path:
    """Write a grid of images as a PNG (nearest-neighbour upscaled so pixels stay crisp);
    mode L for grey images, RGB for colour."""
    img = _upscale(make_grid(images, nrow), scale)
    atomic_save(path, lambda tmp: img.save(tmp, format="PNG"))
    return Path(path)


def _frame(frame) -> np.ndarray:
    """One GIF frame as drawn: uint8 (H, W) grey or (H, W, 3) RGB (e.g. a tiled grid or a PNG read
    back); one channel-first image (1 or 3, H, W), as a model decodes it, is accepted too."""
    f = np.asarray(frame)
    if f.ndim == 3 and f.shape[0] in (1, 3) and f.shape[-1] != 3:
        f = channels_last(f)
    f = to_uint8(f)
    if f.ndim == 2 or (f.ndim == 3 and f.shape[-1] == 3):
        return f
    raise ValueError(f"a GIF frame must be (H, W) grey or (H, W, 3) RGB, got shape {f.shape}")


def save_gif(path: str | Path, frames: Sequence[np.ndarray], duration_ms: int = 120,
             scale: int = 2, loop: int = 0) -> Path:
    """Write frames as an animated GIF. Each frame is one drawn image, float in [0, 1] or uint8:
    (H, W) grey or (H, W, 3) RGB (a single image, or a grid from `make_grid`; a channel-first
    (C, H, W) image is taken too). Grey frames are
    made RGB when any frame is colour; each colour frame gets its own 256-colour palette."""
    if len(frames) == 0:
        raise ValueError("save_gif needs at least one frame")
    pil = [_upscale(f, scale) for f in same_mode([_frame(f) for f in frames])]
    atomic_save(path, lambda tmp: pil[0].save(tmp, format="GIF", save_all=True, append_images=pil[1:],
                                              duration=duration_ms, loop=loop))
    return Path(path)
