"""User data: arrays in an .npz file (the npz:PATH dataset).

Arrays: x (N,H,W), (N,H,W,C) or (N,C,H,W) with C = 1 or 3, uint8 or float in [0, 1]; y (N,);
optional x_test/y_test, class_names, and layout ("NHWC" or "NCHW"). They end as uint8
(N, C, H, W) images with int64 labels 0..k-1, like the built-in datasets.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError


def _npz_layout(arrays: dict, path: Path) -> str | None:
    """The optional `layout` string array: "NHWC" or "NCHW" (None when absent)."""
    if "layout" not in arrays:
        return None
    raw = np.asarray(arrays["layout"])
    value = str(raw.reshape(-1)[0]).strip().upper() if raw.size == 1 and raw.dtype.kind in "US" else None
    if value not in ("NHWC", "NCHW"):
        raise UserError(f"{path}: array 'layout' must be the string \"NHWC\" or \"NCHW\", "
                        f"got {raw.reshape(-1)[:4].tolist()}; e.g. numpy.savez(path, x=x, y=y, layout=\"NHWC\")")
    return value


def _channels_first(x: np.ndarray, path: Path, key: str, layout: str | None) -> np.ndarray:
    """(N, H, W), (N, H, W, C) or (N, C, H, W) with C in 1 or 3 -> (N, C, H, W) (a view).

    4-D arrays where both axis 1 and axis 3 could be the channels, e.g. (N, 3, 32, 3), need
    `layout` in the file; so do arrays with another channel count, which are refused."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim != 4:
        raise UserError(f"{path}: array {key!r} has shape {x.shape}; expected (N, H, W), (N, H, W, C) "
                        "or (N, C, H, W) with C = 1 (grey) or 3 (RGB)")
    first, last = x.shape[1] in (1, 3), x.shape[3] in (1, 3)
    if layout is None and first and last:
        raise UserError(f"{path}: array {key!r} has shape {x.shape}: axis 1 and axis 3 could both be the "
                        "channels; add layout=\"NHWC\" or layout=\"NCHW\" to the file "
                        "(numpy.savez(path, x=x, y=y, layout=\"NHWC\"))")
    if layout == "NCHW" or (layout is None and first):
        channels, out = x.shape[1], x
    elif layout == "NHWC" or (layout is None and last):
        channels, out = x.shape[3], x.transpose(0, 3, 1, 2)
    else:
        channels, out = None, None
    if channels not in (1, 3):
        if channels is None:
            channels = 4 if 4 in (x.shape[1], x.shape[3]) else None
        c = f"{channels} channels" if channels is not None else "no axis of 1 or 3 channels"
        hint = " (RGBA? drop or composite the alpha channel, e.g. x[..., :3])" if channels == 4 else ""
        raise UserError(f"{path}: array {key!r} has shape {x.shape}{f' with layout {layout}' if layout else ''}: "
                        f"{c}{hint}; store (N, H, W), (N, H, W, C) or (N, C, H, W) with C = 1 (grey) or 3 (RGB)")
    return out


def _to_uint8_images(x: np.ndarray, path: Path, key: str, layout: str | None = None) -> np.ndarray:
    """-> uint8 (N, C, H, W), C-contiguous (torch and the pipeline slice it by image)."""
    x = _channels_first(x, path, key, layout)
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x)
    if x.dtype.kind in "iu":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise UserError(f"{path}: array {key!r} holds values outside 0..255; store levels 0..255 as uint8")
        return np.ascontiguousarray(x, dtype=np.uint8)
    if x.dtype.kind == "f":
        if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 1):
            raise UserError(f"{path}: float array {key!r} must hold values in [0, 1] "
                            "(or store uint8 levels 0..255)")
        return np.ascontiguousarray(np.rint(x * 255), dtype=np.uint8)
    raise UserError(f"{path}: array {key!r} has dtype {x.dtype}; store uint8 levels 0..255 or floats in [0, 1]")


def _to_labels(y: np.ndarray, path: Path, key: str, n: int, x_key: str) -> np.ndarray:
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise UserError(f"{path}: array {key!r} must be 1-D integer labels, got shape {y.shape} dtype {y.dtype}")
    if len(y) != n:
        raise UserError(f"{path}: {x_key!r} holds {n} images but {key!r} holds {len(y)} labels; "
                        "they must match one to one")
    return y.astype(np.int64)


def load_npz(path: str | Path):
    """(x_train, y_train, x_test|None, y_test|None, class_names) from an .npz file.

    Arrays: x (N,H,W), (N,H,W,C) or (N,C,H,W) with C = 1 or 3, uint8 or float in [0, 1];
    y (N,); optional x_test/y_test, class_names, and layout ("NHWC" or "NCHW", needed only
    when the shape leaves the channel axis open). Without class_names, the distinct labels
    become the classes (named by their values) in sorted order.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: .npz file not found; give npz:PATH to a file with arrays x and y")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc}); save it with numpy.savez(path, x=..., y=...)") from None
    for k in ("x", "y"):
        if k not in arrays:
            raise UserError(f"{path}: no array {k!r} (has: {', '.join(arrays) or 'none'}); "
                            "save it with numpy.savez(path, x=images, y=labels)")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise UserError(f"{path}: has only one of x_test / y_test; give both or neither")
    layout = _npz_layout(arrays, path)
    x = _to_uint8_images(arrays.pop("x"), path, "x", layout)     # pop: the float original can go
    y = _to_labels(arrays["y"], path, "y", len(x), "x")
    x_test = y_test = None
    if "x_test" in arrays:
        x_test = _to_uint8_images(arrays.pop("x_test"), path, "x_test", layout)
        y_test = _to_labels(arrays["y_test"], path, "y_test", len(x_test), "x_test")
        if x_test.shape[1:] != x.shape[1:]:
            raise UserError(f"{path}: x is {x.shape[1:]} per image (C, H, W) but x_test is {x_test.shape[1:]}; "
                            "they must match")
    all_y = y if y_test is None else np.concatenate([y, y_test])
    if "class_names" in arrays:
        names = [str(s) for s in np.asarray(arrays["class_names"]).reshape(-1)]
        if len(all_y) and (all_y.min() < 0 or all_y.max() >= len(names)):
            raise UserError(f"{path}: labels must lie in 0..{len(names) - 1} (one per class name), "
                            f"found {int(all_y.min())}..{int(all_y.max())}")
    else:
        values = np.unique(all_y)
        names = [str(int(v)) for v in values]
        y = np.searchsorted(values, y)
        if y_test is not None:
            y_test = np.searchsorted(values, y_test)
    if len(names) < 2:
        raise UserError(f"{path}: only {len(names)} class; need at least two")
    return x, y.astype(np.int64), x_test, (None if y_test is None else y_test.astype(np.int64)), names
