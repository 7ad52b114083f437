"""A dataset's description as plain JSON-able values (for `data info` and metrics.json["data"])."""

from __future__ import annotations

import numpy as np


def describe_dataset(ds, note: str | None = None) -> dict:
    """Shapes, per-class counts per split (index = label), pixel range and mean, source."""

    def split(x: np.ndarray, y: np.ndarray) -> dict:
        counts = np.bincount(y, minlength=ds.n_classes)
        return {"images": int(len(y)), "shape": list(x.shape),
                "class_counts": [int(c) for c in counts],
                "pixel_min": int(x.min()) if x.size else None,
                "pixel_max": int(x.max()) if x.size else None,
                "pixel_mean": round(float(x.mean()), 2) if x.size else None}

    d = {"name": ds.name, "source": ds.source, "image_shape": list(ds.image_shape), "channels": ds.channels,
         "n_classes": ds.n_classes, "class_names": list(ds.class_names),
         "original_labels": list(ds.original_labels),
         "train": split(ds.x_train, ds.y_train), "test": split(ds.x_test, ds.y_test)}
    if ds.factors_train:
        d["factors"] = sorted(ds.factors_train)
    if ds.unusable:
        d["unusable_files"] = list(ds.unusable)
    if note is not None:
        d["note"] = note
    return d
