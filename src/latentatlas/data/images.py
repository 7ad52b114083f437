"""User data: a folder of images (one sub-folder per class) or an .npz file.

Both end as uint8 (N, C, H, W) images (C = 1 grey or 3 RGB) with int64 labels
0..k-1, like the built-in datasets, so everything downstream treats them alike.

Folder rules (docs/data.md says the same):
- read with Pillow: PNG, JPEG, BMP, GIF (first frame), TIFF, WebP; EXIF orientation applied;
  other files in a class folder are skipped and counted; hidden files are ignored;
- modes: transparency (RGBA, LA, PA, palette or grey with a transparent colour) is composited
  on white; palette -> RGB; CMYK / YCbCr -> RGB; 16-bit grey scaled to 8 bits (v / 257, no
  clipping); 1-bit and L stay grey;
- color: auto = RGB when any image is in colour (grey ones repeated to 3 channels), else
  grey; rgb / grey force it (grey = Pillow's "L" luma, per image, before resizing);
- size: every image reaches image_size x image_size by `fit`: "crop" scales the short side
  to the size and cuts the centre (PIL.ImageOps.fit); "pad" scales the long side to the size
  and pads the rest with black (PIL.ImageOps.pad), centred. Never a stretch. Lanczos
  resampling (antialiased), JPEGs decoded at a reduced scale first (draft) when much larger.
What was converted is counted in a note that ends up in ImageDataset.source.
"""

from __future__ import annotations

import struct
import zipfile
from collections import Counter, deque
from pathlib import Path

import numpy as np

from ..errors import UserError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
DEFAULT_IMAGE_SIZE = 28
FIT_RULES = ("crop", "pad")
# Runs written before colour support read folders this way (grey, PNG/JPEG only, stretched
# with bilinear); RunDir.config_section("data") asks for it so old runs load what they trained on.
LEGACY_FIT = "legacy"
LEGACY_SUFFIXES = {".png", ".jpg", ".jpeg"}
PAD_COLOUR = 0          # black: the background of digit-like data, and the usual letterbox


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


def _scan(folder: Path, suffixes: set[str]) -> tuple[list[Path], list[list[Path]], int]:
    """Class folders (sorted), their image files (sorted), and how many other files were skipped.

    Hidden files and folders (".DS_Store", ".git/") are ignored without counting."""
    if not folder.is_dir():
        raise UserError(f"{folder}: image folder not found; give folder:PATH with one sub-folder per class")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    files_per_class, skipped = [], 0
    for d in class_dirs:
        files = sorted(f for f in d.rglob("*") if f.is_file()
                       and not any(part.startswith(".") for part in f.relative_to(d).parts))
        images = [f for f in files if f.suffix.lower() in suffixes]
        skipped += len(files) - len(images)
        files_per_class.append(images)
    if not class_dirs or not any(files_per_class):
        raise UserError(f"{folder}: no images found (expected one sub-folder per class holding "
                        f"{'/'.join(sorted(s.lstrip('.').upper() for s in suffixes))} files)")
    empty = [d.name for d, files in zip(class_dirs, files_per_class) if not files]
    if empty:
        raise UserError(f"{folder}: class folder(s) {', '.join(empty)} hold no images; "
                        "add images or remove those folders")
    if len(class_dirs) < 2:
        raise UserError(f"{folder}: only one class folder ({class_dirs[0].name}); "
                        "need at least two sub-folders, one per class")
    return class_dirs, files_per_class, skipped


def _open(path: Path, size: int):
    """(the first frame of the image at `path`, decoded, EXIF orientation applied; its frame count).

    Decoding happens here (load), so a corrupt or truncated file fails here and nowhere else.
    A JPEG much larger than the target is decoded at 1/2..1/8 scale (draft): same result to
    the eye, a fraction of the time and memory for a folder of camera photos."""
    from PIL import Image, ImageOps

    img = Image.open(path)
    try:
        if img.format == "JPEG":
            img.draft(None, (2 * size, 2 * size))       # keep >= 2x the target for antialiasing
        img.load()
        frames = getattr(img, "n_frames", 1)
        ImageOps.exif_transpose(img, in_place=True)
    except BaseException:
        img.close()
        raise
    return img, frames


def _composite_on_white(img, mode: str):
    """An image with an alpha channel -> `mode` ("L" or "RGB") over a white background."""
    from PIL import Image

    rgba = img.convert("LA" if mode == "L" else "RGBA")
    out = Image.new(mode, rgba.size, 255 if mode == "L" else (255, 255, 255))
    out.paste(rgba.convert(mode), mask=rgba.getchannel("A"))
    return out


def _scale_16_bit(img):
    """16-bit (I;16*) or 32-bit integer ("I") grey -> 8-bit "L", scaled (v / 257), not clipped
    to the low 8 bits as Pillow's convert("L") would. Float ("F") images in [0, 1] scale by 255."""
    from PIL import Image

    a = np.asarray(img, dtype=np.float32)
    factor = 255.0 if img.mode == "F" and a.size and float(a.max()) <= 1.0 else 1.0 / 257.0
    return Image.fromarray(np.clip(np.rint(a * factor), 0, 255).astype(np.uint8), "L")


def _normalise_mode(img) -> tuple[object, str | None]:
    """(image in "L" or "RGB", what was done to it or None)."""
    mode = img.mode
    if mode in ("L", "RGB") and "transparency" not in img.info:
        return img, None
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        grey = mode in ("LA", "La", "L", "1")
        what = {"P": "palette with transparency", "PA": "palette with transparency"}.get(mode, mode)
        return _composite_on_white(img, "L" if grey else "RGB"), f"{what} composited on white"
    if mode == "1":
        return img.convert("L"), "1-bit widened to 8-bit grey"
    if mode == "I" or mode == "F" or mode.startswith("I;16"):
        return _scale_16_bit(img), f"{'16-bit' if mode != 'F' else 'float'} scaled to 8 bits"
    if mode == "P":
        return img.convert("RGB"), "palette converted to RGB"
    return img.convert("RGB"), f"{mode} converted to RGB"        # CMYK, YCbCr, LAB, HSV


def _to_size(img, size: int, fit: str):
    """The image at size x size by `fit` (see the module docstring); unchanged when it is already."""
    from PIL import Image

    w, h = img.size
    if (w, h) == (size, size):
        return img
    lanczos = Image.Resampling.LANCZOS
    if fit == "crop":                                   # as ImageOps.fit, centred: the short side fits
        m = min(w, h)
        box = ((w - m) / 2, (h - m) / 2, (w + m) / 2, (h + m) / 2)
        return img.resize((size, size), lanczos, box=box, reducing_gap=3.0)
    # "pad", as ImageOps.pad: the long side fits, centred on a black square
    scale = size / max(w, h)
    new = (max(1, min(size, round(w * scale))), max(1, min(size, round(h * scale))))
    resized = img.resize(new, lanczos, reducing_gap=3.0)
    out = Image.new(img.mode, (size, size), PAD_COLOUR if img.mode == "L" else (PAD_COLOUR,) * 3)
    out.paste(resized, (round((size - new[0]) / 2), round((size - new[1]) / 2)))
    return out


def _read_legacy(path: Path, size: int) -> np.ndarray:
    """(size, size) grey exactly as folders were read before colour support (a stretch)."""
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("L")
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(img)


def _read_image(path: Path, size: int, fit: str, color: str) -> tuple[np.ndarray, list[str]]:
    """(uint8 (size, size) grey or (size, size, 3) RGB, what was done to it)."""
    if fit == LEGACY_FIT:
        return _read_legacy(path, size), []
    done = []
    img, frames = _open(path, size)
    try:                                                 # close: a GIF or TIFF keeps its file open
        norm, what = _normalise_mode(img)
        if what:
            done.append(what)
        if frames > 1:
            done.append("multi-frame: first frame used")
        if color == "grey" and norm.mode == "RGB":
            norm = norm.convert("L")                     # ITU-R 601 luma, before resizing: 1/3 the work
            done.append("colour converted to grey")
        if norm.size != (size, size):
            done.append(f"resized to {size}x{size} by {'centre crop' if fit == 'crop' else 'padding with black'}")
        return np.asarray(_to_size(norm, size, fit)), done   # a copy: independent of the closed image
    finally:
        img.close()


class _Stack:
    """The (N, C, S, S) array, filled one image at a time in a single pass.

    Grey until the first colour image arrives (color="auto"): then an RGB array takes the
    grey images so far, repeated to three channels, and the grey one is dropped. The peak is
    4/3 of the final array, never a list of per-image arrays."""

    def __init__(self, n: int, size: int, color: str):
        self.n, self.size = n, size
        self.rgb = np.empty((n, 3, size, size), np.uint8) if color == "rgb" else None
        self.grey = None if color == "rgb" else np.empty((n, 1, size, size), np.uint8)
        self.grey_images = 0

    def put(self, i: int, a: np.ndarray) -> None:
        if a.ndim == 3 and self.rgb is None:
            self.rgb = np.empty((self.n, 3, self.size, self.size), np.uint8)
            self.rgb[:i] = self.grey[:i]                # broadcast 1 -> 3 channels
            self.grey = None
        if a.ndim == 2:
            self.grey_images += 1
        if self.rgb is None:
            self.grey[i, 0] = a
        else:
            self.rgb[i] = a.transpose(2, 0, 1) if a.ndim == 3 else a[None]

    def result(self, done: Counter) -> np.ndarray:
        if self.rgb is not None and self.grey_images:
            done["grey repeated to RGB"] += self.grey_images
        return self.rgb if self.rgb is not None else self.grey


def _note(done: Counter, skipped: int) -> str:
    """ "12 RGBA composited on white, 40 resized to 28x28 by centre crop; 2 non-image files skipped"."""
    def order(what: str) -> int:                                 # modes, then colour, then size
        return 2 if what.startswith("resized") else int(what in ("colour converted to grey", "grey repeated to RGB"))

    parts = ", ".join(f"{done[w]} {w}" for w in sorted(done, key=order))
    if skipped:
        parts += f"{'; ' if parts else ''}{skipped} non-image file{'s' if skipped != 1 else ''} skipped"
    return parts


def _unreadable(path: Path, exc: BaseException, i: int, n: int) -> UserError:
    reason = str(exc).strip() or type(exc).__name__
    return UserError(f"{path}: not a readable image ({reason}); {i} of {n} files read before it; "
                     "remove or replace it")


def _read_all(paths: list[Path], size: int, fit: str, color: str, stack: _Stack, done: Counter) -> None:
    """Every image into `stack`, in order, decoded on a few threads (Pillow decodes and resizes
    without the GIL). At most a small window of images is in flight, so memory stays the
    final array's; the first unreadable file in order stops the load, with its index."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image, UnidentifiedImageError
    from tqdm.auto import tqdm

    from ..runtime import usable_cores

    bad = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error,
           Image.DecompressionBombError)
    n, workers = len(paths), min(8, usable_cores())
    todo, pending = iter(enumerate(paths)), deque()
    with ThreadPoolExecutor(workers) as pool, tqdm(total=n, desc="reading images", unit="img", leave=False,
                                                   disable=None if n >= 1000 else True) as bar:
        def submit_next() -> None:
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((*nxt, pool.submit(_read_image, nxt[1], size, fit, color)))

        for _ in range(4 * workers):
            submit_next()
        while pending:
            i, path, future = pending.popleft()
            try:
                a, what = future.result()
            except bad as exc:
                for *_, later in pending:
                    later.cancel()
                raise _unreadable(path, exc, i, n) from None
            submit_next()
            stack.put(i, a)
            done.update(what)
            bar.update()


def load_image_folder(folder: str | Path, image_size: int | None = None, color: str = "auto",
                      fit: str = "crop"):
    """(x uint8 (N, C, S, S), y int64 (N,), class_names, note) from FOLDER/<class>/<image>.

    Classes are the sub-folders in sorted order. Modes, colour and size follow the module
    docstring's rules (S = image_size, default 28); `note` counts what was converted and
    skipped ("" when nothing was)."""
    if color not in ("auto", "rgb", "grey"):
        raise UserError(f"color {color!r} is not one of auto, rgb, grey")
    if fit not in (*FIT_RULES, LEGACY_FIT):
        raise UserError(f"fit {fit!r} is not one of {', '.join(FIT_RULES)}")
    folder = Path(folder).expanduser()
    size = check_image_size(image_size if image_size is not None else DEFAULT_IMAGE_SIZE)
    legacy = fit == LEGACY_FIT
    class_dirs, files_per_class, skipped = _scan(folder, LEGACY_SUFFIXES if legacy else IMAGE_SUFFIXES)
    n = sum(len(f) for f in files_per_class)
    stack, done = _Stack(n, size, "grey" if legacy else color), Counter()
    y = np.repeat(np.arange(len(class_dirs), dtype=np.int64), [len(f) for f in files_per_class])
    _read_all([f for files in files_per_class for f in files], size, fit, color, stack, done)
    x = stack.result(done)
    return x, y, [d.name for d in class_dirs], ("" if legacy else _note(done, skipped))


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
