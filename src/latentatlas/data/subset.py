"""Class subsets: keep some classes, relabel them 0..k-1, remember the originals.

Study 003 trains on digits 1, 4 and 8 only: `--classes 1,4,8`. Classes may be
named by label (`5`) or by class name (`Sandal`, case-insensitive); the kept
classes are ordered by their original label, so `8,1,4` and `1,4,8` give the
same dataset. `class_index` is the package's one reading of a class given by
name or label (generation's --classes and walk endpoints use it too).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Sequence

import numpy as np

from ..errors import UserError


def parse_classes(text: str | Sequence | None) -> list[str] | None:
    """'1,4,8' or 'Sandal, Sneaker' (or a list) -> ['1', '4', '8']; None/'' -> None."""
    if text is None:
        return None
    if isinstance(text, str):
        items = text.split(",")
    elif isinstance(text, (int, float)) or not hasattr(text, "__iter__"):
        items = [text]                          # a single label, e.g. classes=3
    else:
        items = list(text)
    out = [str(c).strip() for c in items if str(c).strip() != ""]
    return out or None


def class_index(value, class_names: Sequence[str], where: str = "dataset") -> int:
    """A class given by name ("Trouser": exact first, then case-insensitive) or by label ("3")
    -> its index in class_names; UserError naming the choices otherwise."""
    names = [str(n) for n in class_names]
    token = str(value).strip()
    if token in names:                          # exact name first ("0".."9" for MNIST)
        return names.index(token)
    lowered = {n.lower(): i for i, n in reversed(list(enumerate(names)))}
    if token.lower() in lowered:
        return lowered[token.lower()]
    if token.lstrip("-").isdigit() and 0 <= int(token) < len(names):
        return int(token)
    listing = ", ".join(f"{i}={n}" for i, n in enumerate(names))
    raise UserError(f"unknown class {token!r} in {where}; give labels or names from: {listing}")


def class_indices(values, class_names: Sequence[str], where: str = "this run") -> list[int] | None:
    """Each of `values` (names or labels) as an index, in the order given; None when none given."""
    if not values:
        return None
    return [class_index(v, class_names, where) for v in values]


def resolve_classes(classes: Iterable, class_names: Sequence[str], dataset: str = "dataset") -> list[int]:
    """Original labels (sorted) of the requested classes; UserError for unknown or too few."""
    labels: list[int] = []
    for c in classes:
        label = class_index(c, class_names, dataset)
        if label in labels:
            raise UserError(f"class {str(c).strip()!r} is listed twice in --classes; list each class once")
        labels.append(label)
    if len(labels) < 2:
        raise UserError(f"a class subset needs at least two classes, got {len(labels)} "
                        f"({', '.join(map(str, classes)) or 'none'}); list two or more, e.g. --classes 1,4,8")
    return sorted(labels)


def select_classes(ds, classes) -> "ImageDataset":  # noqa: F821
    """A new ImageDataset with only `classes`, relabelled 0..k-1 in original-label order."""
    parsed = parse_classes(classes)
    if parsed is None:
        return ds
    keep = resolve_classes(parsed, ds.class_names, ds.name)
    # lookup[old] = new label or -1; labels here are 0..K-1 of the current dataset.
    lookup = np.full(len(ds.class_names), -1, dtype=np.int64)
    lookup[keep] = np.arange(len(keep))
    new_tr, new_te = lookup[ds.y_train], lookup[ds.y_test]
    mtr, mte = new_tr >= 0, new_te >= 0
    base = ds.original_labels or list(range(len(ds.class_names)))
    return replace(
        ds,
        x_train=ds.x_train[mtr], y_train=new_tr[mtr],
        x_test=ds.x_test[mte], y_test=new_te[mte],
        class_names=[ds.class_names[i] for i in keep],
        original_labels=[base[i] for i in keep],
        factors_train={k: v[mtr] for k, v in ds.factors_train.items()},
        factors_test={k: v[mte] for k, v in ds.factors_test.items()},
    )
