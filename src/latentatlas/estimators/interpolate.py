"""Paths through the latent space: walks, tours, traversals, the 2-d manifold grid.

Pure numpy on codes (no model): each function returns the codes to decode, so
the geometry is testable on its own. `latentatlas.stages.walks` decodes them
and `latentatlas.figures` draws them.

- class_means(codes, labels)           (k, d): the points study 000 said to look at
- convex_path(a, b, steps)             (steps, d): (1 - t) a + t b, t = 0 .. 1 (study 004's
                                       "convex combinations of sample means")
- tour(points, steps_per_leg)          a closed walk through every point, for one looping GIF
- traversal(center, scale, k, steps)   (d, steps, d): one latent dimension varied at a time
- manifold_grid(codes, n, percentiles) (n*n, 2): a 2-d latent's occupied region, on a grid
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError


def class_means(codes: np.ndarray, labels: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """Mean code of each class, (k, d); a class with no codes gets NaN (and is skipped by callers)."""
    codes = np.asarray(codes, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    k = int(n_classes if n_classes is not None else labels.max() + 1)
    sums = np.zeros((k, codes.shape[1]))
    np.add.at(sums, labels, codes)
    counts = np.bincount(labels, minlength=k)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _check_steps(steps: int, minimum: int = 2) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < minimum:
        raise UserError(f"--steps must be an integer >= {minimum}, got {steps!r}")
    return int(steps)


def convex_path(a: np.ndarray, b: np.ndarray, steps: int = 10) -> np.ndarray:
    """(steps, d) codes from a to b inclusive: (1 - t) a + t b for t evenly in [0, 1]."""
    steps = _check_steps(steps)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]                       # (steps, 1)
    return (1.0 - t) * a[None] + t * b[None]


def tour(points: np.ndarray, steps_per_leg: int = 10, closed: bool = True) -> np.ndarray:
    """A walk visiting every point in order (and back to the first if closed).

    Each leg drops its last frame, which is the next leg's first, so the GIF never
    stutters on a repeated frame. Returns (legs * (steps_per_leg - 1) [+ 1], d).
    """
    points = np.asarray(points, np.float64)
    if len(points) < 2:
        raise UserError("a tour needs at least two points (classes)")
    steps_per_leg = _check_steps(steps_per_leg)
    stops = np.concatenate([points, points[:1]]) if closed else points
    legs = [convex_path(stops[i], stops[i + 1], steps_per_leg)[:-1] for i in range(len(stops) - 1)]
    path = np.concatenate(legs)
    return path if closed else np.concatenate([path, stops[-1:]])


def traversal(center: np.ndarray, scale: np.ndarray, k: float = 3.0, steps: int = 9,
              dims=None) -> np.ndarray:
    """Vary one latent dimension at a time around `center`, from -k to +k times its scale.

    center (d,), scale (d,) (e.g. the codes' per-dimension std) -> (len(dims), steps, d):
    row i keeps every dimension at `center` except dims[i].
    """
    center = np.asarray(center, np.float64)
    scale = np.broadcast_to(np.asarray(scale, np.float64), center.shape)
    steps = _check_steps(steps)
    d = center.shape[0]
    dims = np.arange(d) if dims is None else np.asarray(dims, dtype=np.int64).ravel()
    if len(dims) and (dims.min() < 0 or dims.max() >= d):
        raise UserError(f"latent dimensions must be in 0..{d - 1}, got {dims.tolist()}")
    offsets = np.linspace(-k, k, steps)                              # (steps,)
    out = np.repeat(center[None, None], len(dims), axis=0).repeat(steps, axis=1)  # (D, steps, d)
    for row, j in enumerate(dims):
        out[row, :, j] = center[j] + offsets * scale[j]
    return out


def manifold_grid(codes: np.ndarray, n: int = 20, percentiles: tuple[float, float] = (1.0, 99.0)
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a 2-d latent: an n x n grid over the region the codes occupy.

    The bounds are percentiles of the codes rather than min/max, so a few outliers
    do not stretch the grid over empty space. Returns (grid (n*n, 2), xs (n,), ys (n,)),
    grid row-major with y decreasing down the rows, as a plot's axes would show it.
    """
    codes = np.asarray(codes, np.float64)
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise UserError(f"the manifold grid needs a 2-d latent space, this one has {codes.shape[-1]} dimensions")
    n = _check_steps(n)
    lo, hi = np.percentile(codes, percentiles, axis=0)               # (2,), (2,)
    xs = np.linspace(lo[0], hi[0], n)
    ys = np.linspace(hi[1], lo[1], n)                                 # top row = largest y
    gx, gy = np.meshgrid(xs, ys)                                     # (n, n) each
    return np.stack([gx.ravel(), gy.ravel()], axis=1), xs, ys
