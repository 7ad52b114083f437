"""A small colour dataset with a known factor, for the tests of colour in the analysis and the explorer.

`tinted_sample()` is the embedded MNIST sample with each digit's strokes tinted by a seeded
hue (as mnist-color tints full MNIST), carrying factors_train/test["hue"] in [0, 1).
`use_tinted_sample(monkeypatch)` serves it as the dataset "mnist-color" to every stage
(they all call `latentatlas.data.load_dataset`), so a test gets a colour run in seconds
without the full MNIST files.
"""

from dataclasses import replace

import numpy as np

NAME = "mnist-color"


def tint(grey: np.ndarray, hue: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) uint8 -> (N, 3, H, W) uint8: grey level times HSV(hue, 1, 1)."""
    h6 = hue[:, None] * 6.0
    rgb = np.clip(np.column_stack([np.abs(h6 - 3) - 1, 2 - np.abs(h6 - 2), 2 - np.abs(h6 - 4)]), 0, 1)
    return (grey.astype(np.float32) * rgb[:, :, None, None].astype(np.float32) + 0.5).astype(np.uint8)


def tinted_sample(**kwargs):
    """mnist-sample (any load_dataset keywords but name) tinted by seeded hues, with the hue factor."""
    from latentatlas.data import registry

    ds = registry.load_dataset("mnist-sample", **kwargs)
    h_tr = np.random.default_rng([15, 0]).random(len(ds.y_train))
    h_te = np.random.default_rng([15, 1]).random(len(ds.y_test))
    return replace(ds, name=NAME, x_train=tint(ds.x_train, h_tr), x_test=tint(ds.x_test, h_te),
                   factors_train={"hue": h_tr}, factors_test={"hue": h_te}, source="tinted mnist-sample (tests)")


def use_tinted_sample(monkeypatch) -> None:
    """Serve `tinted_sample` as "mnist-color" through latentatlas.data.load_dataset (others unchanged)."""
    from latentatlas import data

    real = data.load_dataset

    def load(name, **kwargs):
        if name != NAME:
            return real(name, **kwargs)
        kwargs.pop("data_dir", None)
        kwargs.pop("download", None)
        return tinted_sample(**kwargs)

    monkeypatch.setattr(data, "load_dataset", load)
