"""Thumbnails for the map: the images of the points in view, tiled into one PNG (a sprite atlas).

    atlas(images (N, H, W[, 3]) uint8, rows (K,)) -> PNG bytes

Cell k (row-major, ceil(sqrt(K)) cells a row, each H x W) holds images[rows[k]]; the page cuts
the cells out with drawImage and draws each in place of its dot once the view is zoomed in
far enough that at most MAX_SPRITES points are in sight. One request per zoom, not one per
image, and only for the points in view.
"""

from __future__ import annotations

import math

import numpy as np

MAX_SPRITES = 400


def layout(k: int) -> tuple[int, int]:
    """(columns, rows) of the atlas of k cells."""
    cols = max(1, math.ceil(math.sqrt(k)))
    return cols, max(1, math.ceil(k / cols))


def atlas(images: np.ndarray, rows: np.ndarray) -> bytes:
    from .state import png

    tiles = images[np.asarray(rows, np.int64)]                     # (K, H, W[, 3])
    k, h, w = tiles.shape[:3]
    cols, nrows = layout(k)
    sheet = np.zeros((nrows * h, cols * w) + tiles.shape[3:], np.uint8)
    for j, tile in enumerate(tiles):
        r, c = divmod(j, cols)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = tile
    return png(sheet)
