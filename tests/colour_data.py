"""Synthetic colour images for tests: no CIFAR-10 or SVHN is needed (or fetched)."""

from __future__ import annotations

import numpy as np

PALETTE = np.array([[230, 40, 40], [40, 200, 60], [50, 80, 230], [230, 200, 40],
                    [200, 60, 200], [40, 200, 200], [250, 140, 30], [120, 120, 120]], dtype=np.float64)


def colour_images(n: int, size: int = 32, classes: int = 4, seed: int = 0):
    """(N, 3, size, size) uint8 and labels (N,): each class a colour and a stripe direction, with a
    random phase per image and pixel noise; the grey level alone does not tell the classes apart."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    yy, xx = np.mgrid[0:size, 0:size] / size                                   # (H, W) in [0, 1)
    angle = np.pi * y / classes                                                # (N,)
    phase = rng.uniform(0, 2 * np.pi, n)
    along = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    s = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * along + phase[:, None, None])       # (N, H, W) stripes
    colour = PALETTE[y % len(PALETTE)]                                         # (N, 3)
    img = s[:, None] * colour[:, :, None, None] + (1 - s[:, None]) * 30.0      # (N, 3, H, W)
    img += rng.normal(0, 12, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), y.astype(np.int64)


def write_colour_npz(path, n_train: int = 256, n_test: int = 128, size: int = 32, classes: int = 4,
                     seed: int = 0):
    """An npz of (N, 3, H, W) uint8 images with x, y, x_test, y_test and class names."""
    x, y = colour_images(n_train + n_test, size, classes, seed)
    names = np.array(["red", "green", "blue", "yellow", "magenta", "cyan", "orange", "grey"][:classes])
    np.savez(path, x=x[:n_train], y=y[:n_train], x_test=x[n_train:], y_test=y[n_train:], class_names=names)
    return path
