"""User data: a folder of images, one sub-folder per class (the folder:PATH dataset).

The images end as uint8 (N, C, H, W) (C = 1 grey or 3 RGB) with int64 labels 0..k-1,
like the built-in datasets, so everything downstream treats them alike.

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
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError
from .resize import check_image_size

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
DEFAULT_IMAGE_SIZE = 28
FIT_RULES = ("crop", "pad")
# Runs written before colour support read folders this way (grey, PNG/JPEG only, stretched
# with bilinear); the folder entry's `before_colour` asks for it so old runs load what they trained on.
LEGACY_FIT = "legacy"
LEGACY_SUFFIXES = {".png", ".jpg", ".jpeg"}
PAD_COLOUR = 0          # black: the background of digit-like data, and the usual letterbox

# Why a file in a class folder cannot be used (the words the console and the report show).
ZERO_BYTES, UNREADABLE, TRUNCATED, TOO_SMALL, UNSUPPORTED_MODE = (
    "zero bytes", "unreadable", "truncated", "too small", "unsupported mode")
SHOW_READING_FROM = 500   # images: a bar for a read that takes more than a second or two
SHOWN_IN_CONSOLE = 5       # the warning line names this many, then counts the rest
# What Pillow raises on a file it cannot read (with Image.DecompressionBombError, added where PIL is imported)
BROKEN = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError)


def min_side(size: int) -> int:
    """The smallest side an image may have to be brought to `size` (1x1 or 2-pixel strips are
    no picture): a quarter of the target, at most 8 pixels, at least 2."""
    return max(2, min(8, size // 4))


class Unusable(Exception):
    """A file that cannot be used: `reason` is one of the five words above, `detail` says more."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


def _why(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


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

    Each way a file fails is told apart here (Unusable): not an image (unreadable), a picture
    too small to be brought to `size`, pixel data cut short or damaged (truncated). A JPEG much
    larger than the target is decoded at 1/2..1/8 scale (draft): same result to the eye, a
    fraction of the time and memory for a folder of camera photos."""
    from PIL import Image, ImageOps

    broken = (*BROKEN, Image.DecompressionBombError)
    try:
        img = Image.open(path)                          # reads the header only
    except broken as exc:
        raise Unusable(UNREADABLE, _why(exc).replace(f" {str(path)!r}", "")) from None
    try:
        w, h = img.size
        if min(w, h) < min_side(size):
            raise Unusable(TOO_SMALL, f"{w}x{h}, under {min_side(size)} pixels a side")
        try:
            if img.format == "JPEG":
                img.draft(None, (2 * size, 2 * size))   # keep >= 2x the target for antialiasing
            img.load()
            frames = getattr(img, "n_frames", 1)
            ImageOps.exif_transpose(img, in_place=True)
        except broken as exc:
            raise Unusable(TRUNCATED, _why(exc)) from None
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


def _read_legacy(img, size: int) -> np.ndarray:
    """(size, size) grey exactly as folders were read before colour support (a stretch)."""
    from PIL import Image

    img = img.convert("L")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img)


def _read_image(path: Path, size: int, fit: str, color: str) -> tuple[np.ndarray, list[str]]:
    """(uint8 (size, size) grey or (size, size, 3) RGB, what was done to it); Unusable when the
    file cannot be used (see _open; a mode Pillow cannot convert: unsupported mode)."""
    done = []
    img, frames = _open(path, size)
    try:                                                 # close: a GIF or TIFF keeps its file open
        if fit == LEGACY_FIT:
            return _read_legacy(img, size), []
        try:
            norm, what = _normalise_mode(img)
        except BROKEN as exc:
            raise Unusable(UNSUPPORTED_MODE, f"{img.mode}: {_why(exc)}") from None
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


def _read_checked(path: Path, size: int, fit: str, color: str):
    """`_read_image`'s result, or the Unusable that says why the file cannot be used."""
    try:
        if path.stat().st_size == 0:
            raise Unusable(ZERO_BYTES)
        return _read_image(path, size, fit, color)
    except Unusable as exc:
        return exc
    except OSError as exc:                               # gone or unreadable (permissions) since the scan
        return Unusable(UNREADABLE, _why(exc))


def _decode_workers(n: int) -> int:
    """Reader threads: one per usable core (Pillow decodes and resizes without the GIL)."""
    from ..runtime import usable_cores

    return max(1, min(usable_cores(), n))


def _read_all(paths: list[Path], size: int, fit: str, color: str, stack: _Stack, done: Counter) -> list:
    """Every image into `stack`, in order, decoded on one thread per core; returns
    [(index, Unusable)] for the files that cannot be used (their rows of `stack` stay unfilled).
    At most a small window of images is in flight, so memory stays the final array's."""
    from concurrent.futures import ThreadPoolExecutor

    from ..runtime.progress import progress_bar

    bad, n, workers = [], len(paths), _decode_workers(len(paths))
    todo, pending = iter(enumerate(paths)), deque()
    with ThreadPoolExecutor(workers) as pool, progress_bar(n, "reading images", show=n >= SHOW_READING_FROM,
                                                           unit="img") as bar:
        def submit_next() -> None:
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt[0], pool.submit(_read_checked, nxt[1], size, fit, color)))

        for _ in range(4 * workers):
            submit_next()
        while pending:
            i, future = pending.popleft()
            got = future.result()
            submit_next()
            if isinstance(got, Unusable):
                bad.append((i, got))
            else:
                stack.put(i, got[0])
                done.update(got[1])
            bar.update()
    return bad


def describe_unusable(bad: list[dict], shown: int = SHOWN_IN_CONSOLE) -> str:
    """ "3 files cannot be used: a/x.png (truncated), b/y.png (zero bytes), ... and 1 more"."""
    names = ", ".join(f"{b['path']} ({b['reason']})" for b in bad[:shown])
    more = f" and {len(bad) - shown} more" if len(bad) > shown else ""
    return f"{len(bad)} file{'s' if len(bad) != 1 else ''} cannot be used: {names}{more}"


def _refuse(folder: Path, bad: list[dict]) -> UserError:
    every = "; ".join(f"{b['path']} ({b['reason']}{': ' + b['detail'] if b['detail'] else ''})" for b in bad)
    return UserError(f"{folder}: {len(bad)} file{'s' if len(bad) != 1 else ''} cannot be used (--strict-images): "
                     f"{every}; remove or replace them, or leave out --strict-images to skip them")


@dataclass
class FolderRead:
    """What reading a folder gave: the images, their labels and class names, a note on what was
    converted, and every file that could not be used ({path relative to the folder, reason, detail})."""

    x: np.ndarray              # uint8 (N, C, S, S)
    y: np.ndarray              # int64 (N,)
    class_names: list[str]
    note: str
    unusable: list[dict] = field(default_factory=list)


def _decode_folder(folder: Path, size: int, color: str, fit: str, class_dirs, files_per_class,
                   skipped: int) -> FolderRead:
    """Decode every file once (see _read_all) and drop the unusable ones."""
    legacy = fit == LEGACY_FIT
    paths = [f for files in files_per_class for f in files]
    stack, done = _Stack(len(paths), size, "grey" if legacy else color), Counter()
    y = np.repeat(np.arange(len(class_dirs), dtype=np.int64), [len(f) for f in files_per_class])
    bad = _read_all(paths, size, fit, color, stack, done)
    x = stack.result(done)
    if bad:
        keep = np.ones(len(paths), bool)
        keep[[i for i, _ in bad]] = False
        x, y = x[keep], y[keep]
    unusable = [{"path": paths[i].relative_to(folder).as_posix(), "reason": e.reason, "detail": e.detail}
                for i, e in bad]
    note = "" if legacy else _note(done, skipped)
    if unusable:
        note += f"{'; ' if note else ''}{len(unusable)} unusable file{'s' if len(unusable) != 1 else ''} skipped"
    return FolderRead(x, y, [d.name for d in class_dirs], note, unusable)


def _check_classes(folder: Path, read: FolderRead) -> None:
    counts = np.bincount(read.y, minlength=len(read.class_names))
    empty = [name for name, c in zip(read.class_names, counts) if c == 0]
    if empty:
        raise UserError(f"{folder}: class folder(s) {', '.join(empty)} hold no usable images "
                        f"({describe_unusable(read.unusable)}); add images or remove those folders")


def read_image_folder(folder: str | Path, image_size: int | None = None, color: str = "auto",
                      fit: str = "crop", strict: bool = False, cache: bool = True) -> FolderRead:
    """FOLDER/<class>/<image> read in one pass: every file that cannot be used is listed (strict:
    UserError naming them all), the rest decoded on every core. The result is cached under the
    latentatlas cache folder (folder_cache.py), keyed by every file's path, size and mtime and
    these settings, so a second read of an unchanged folder decodes nothing. Nothing is written
    into the folder."""
    from . import folder_cache

    if color not in ("auto", "rgb", "grey"):
        raise UserError(f"color {color!r} is not one of auto, rgb, grey")
    if fit not in (*FIT_RULES, LEGACY_FIT):
        raise UserError(f"fit {fit!r} is not one of {', '.join(FIT_RULES)}")
    folder = Path(folder).expanduser()
    size = check_image_size(image_size if image_size is not None else DEFAULT_IMAGE_SIZE)
    class_dirs, files_per_class, skipped = _scan(folder, LEGACY_SUFFIXES if fit == LEGACY_FIT else IMAGE_SUFFIXES)
    key = folder_cache.key(folder, files_per_class, skipped, {"size": size, "color": color, "fit": fit})
    read = folder_cache.load(key, FolderRead) if cache else None
    if read is None:
        read = _decode_folder(folder, size, color, fit, class_dirs, files_per_class, skipped)
        if cache:
            folder_cache.save(key, read)
    if read.unusable and strict:
        raise _refuse(folder, read.unusable)
    _check_classes(folder, read)
    return read


def load_image_folder(folder: str | Path, image_size: int | None = None, color: str = "auto",
                      fit: str = "crop", strict: bool = False):
    """(x uint8 (N, C, S, S), y int64 (N,), class_names, note) from FOLDER/<class>/<image>.

    Classes are the sub-folders in sorted order. Modes, colour and size follow the module
    docstring's rules (S = image_size, default 28); `note` counts what was converted and
    skipped ("" when nothing was). read_image_folder also lists the unusable files."""
    r = read_image_folder(folder, image_size, color, fit, strict)
    return r.x, r.y, r.class_names, r.note
