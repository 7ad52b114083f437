"""User data: a folder of images (one sub-folder per class) or an .npz file.

Both end as uint8 (N, C, H, W) images with int64 labels 0..k-1, like the built-in
datasets, so everything downstream treats them alike.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
DEFAULT_IMAGE_SIZE = 28


def _bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of an antialiased bilinear (triangle) filter, as Pillow builds them.

    Pixel centres map by (i + 0.5) * scale; when shrinking, the triangle widens by
    `scale` so every input pixel contributes (antialiasing). Rows sum to 1.
    """
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale                       # (n_out,)
    inputs = np.arange(n_in) + 0.5                                   # (n_in,)
    w = np.clip(1.0 - np.abs(inputs[None, :] - centres[:, None]) / support, 0.0, None)
    return (w / w.sum(axis=1, keepdims=True)).astype(np.float32)


def resize_images(x: np.ndarray, size: int, chunk: int = 8192) -> np.ndarray:
    """(N, C, H, W) (or (N, H, W)) uint8 -> same with (size, size), antialiased bilinear, vectorised.

    Separable: out = A @ x @ B.T with A (size, H), B (size, W); 70k MNIST images
    take a fraction of a second instead of seconds with a Pillow call per image.
    Channels are resized alike: they are just more (H, W) planes.
    """
    size = check_image_size(size)
    if x.shape[-2:] == (size, size):
        return x
    if x.ndim == 4:
        n, c = x.shape[:2]
        flat = resize_images(x.reshape(n * c, *x.shape[2:]), size, chunk)
        return flat.reshape(n, c, size, size)
    a = _bilinear_matrix(x.shape[1], size)                           # (S, H)
    b_t = _bilinear_matrix(x.shape[2], size).T.copy()                # (W, S)
    out = np.empty((len(x), size, size), dtype=np.uint8)
    for start in range(0, len(x), chunk):                             # bounded memory: chunk*S*S floats
        block = x[start:start + chunk].astype(np.float32)            # (n, H, W)
        res = np.matmul(np.matmul(a, block), b_t)                    # (n, S, S)
        out[start:start + chunk] = np.clip(np.rint(res), 0, 255)
    return out


def check_image_size(size) -> int:
    try:
        s = int(size)
    except (TypeError, ValueError):
        raise UserError(f"image size {size!r} is not a whole number; give e.g. 28") from None
    if s != size or not 4 <= s <= 1024:
        raise UserError(f"image size {size} must be a whole number of pixels from 4 to 1024, e.g. 28")
    return s


def load_image_folder(folder: str | Path, image_size: int | None = None):
    """(x uint8 (N, S, S), y int64 (N,), class_names) from FOLDER/<class>/<image>.

    Classes are the sub-folders in sorted order; images are converted to grey
    ("L") and resized to `image_size` (default 28) square.
    """
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder).expanduser()
    size = check_image_size(image_size if image_size is not None else DEFAULT_IMAGE_SIZE)
    if not folder.is_dir():
        raise UserError(f"{folder}: image folder not found; give folder:PATH with one sub-folder per class")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    files_per_class = [sorted(f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                              and not f.name.startswith(".")) for d in class_dirs]
    if not class_dirs or not any(files_per_class):
        raise UserError(f"{folder}: no images found (expected one sub-folder per class holding "
                        f"{'/'.join(sorted(s.lstrip('.').upper() for s in IMAGE_SUFFIXES))} files)")
    empty = [d.name for d, files in zip(class_dirs, files_per_class) if not files]
    if empty:
        raise UserError(f"{folder}: class folder(s) {', '.join(empty)} hold no images; "
                        "add images or remove those folders")
    if len(class_dirs) < 2:
        raise UserError(f"{folder}: only one class folder ({class_dirs[0].name}); "
                        "need at least two sub-folders, one per class")
    n = sum(len(f) for f in files_per_class)
    x = np.empty((n, size, size), dtype=np.uint8)
    y = np.empty(n, dtype=np.int64)
    i = 0
    for label, files in enumerate(files_per_class):
        for f in files:
            try:
                with Image.open(f) as img:
                    img = img.convert("L")
                    if img.size != (size, size):
                        img = img.resize((size, size), Image.BILINEAR)
                    x[i] = np.asarray(img)
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise UserError(f"{f}: not a readable image ({exc}); remove or replace it") from None
            y[i] = label
            i += 1
    return x[:, None], y, [d.name for d in class_dirs]


def _to_uint8_images(x: np.ndarray, path: Path, key: str) -> np.ndarray:
    """-> uint8 (N, C, H, W)."""
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):     # (N, 3, H, W): colour, until the colour-folders npz rules
        raise UserError(f"{path}: array {key!r} has shape {x.shape}; expected (N, H, W) or (N, 1, H, W)")
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind in "iu":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise UserError(f"{path}: array {key!r} holds values outside 0..255; store grey levels 0..255")
        return x.astype(np.uint8)
    if x.dtype.kind == "f":
        if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > 1):
            raise UserError(f"{path}: float array {key!r} must hold values in [0, 1] "
                            "(or store uint8 grey levels 0..255)")
        return np.rint(x * 255).astype(np.uint8)
    raise UserError(f"{path}: array {key!r} has dtype {x.dtype}; store uint8 grey levels")


def _to_labels(y: np.ndarray, path: Path, key: str, n: int, x_key: str) -> np.ndarray:
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise UserError(f"{path}: array {key!r} must be 1-D integer labels, got shape {y.shape} dtype {y.dtype}")
    if len(y) != n:
        raise UserError(f"{path}: {x_key!r} holds {n} images but {key!r} holds {len(y)} labels; "
                        "they must match one to one")
    return y.astype(np.int64)


def load_npz(path: str | Path):
    """(x_train, y_train, x_test|None, y_test|None, class_names) from an .npz file.

    Arrays: x (N,H,W) or (N,1,H,W), y (N,); optional x_test/y_test and
    class_names. Without class_names, the distinct labels become the classes
    (named by their values) in sorted order.
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
    x = _to_uint8_images(arrays["x"], path, "x")
    y = _to_labels(arrays["y"], path, "y", len(x), "x")
    x_test = y_test = None
    if "x_test" in arrays:
        x_test = _to_uint8_images(arrays["x_test"], path, "x_test")
        y_test = _to_labels(arrays["y_test"], path, "y_test", len(x_test), "x_test")
        if x_test.shape[1:] != x.shape[1:]:
            raise UserError(f"{path}: x is {x.shape[1:]} per image but x_test is {x_test.shape[1:]}; they must match")
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
