"""The decoded images of a folder:PATH dataset, kept in the latentatlas cache folder so a second
read of an unchanged folder decodes nothing.

    <cache>/images/<folder and settings digest>.json              signature, labels, class names, note,
                                                                  unusable files, the array's file name
    <cache>/images/<folder and settings digest>-<signature>.npy   the images, uint8 (N, C, S, S)

One entry per folder and read settings (size, colour, fit): reading the folder again with other
files, or changed ones, replaces it. `signature` is the digest of every file's path, size and
mtime (and the count of non-image files skipped): a file added, removed, replaced or touched
changes it, and the folder is decoded again. The array is written first, under a name of its
own, then the .json that points to it (both atomically), so an entry is whole or absent; the
array is written straight from memory (no copy). A cache that cannot be read or written is only
a slower read (one warning line), never an error. Nothing is ever written into the user's folder.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from ..errors import UserError

FORMAT = 1          # bump when what is stored, or how images are decoded, changes


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:32]


def key(folder: Path, files_per_class: list[list[Path]], skipped: int, settings: dict) -> tuple[Path, str]:
    """(the cache file for this folder and these settings, the signature of its files now)."""
    from ..cache import cache_dir

    root = folder.resolve()
    files = []
    for paths in files_per_class:
        for p in paths:
            st = p.stat()
            files.append((p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns))
    name = _digest({"format": FORMAT, "folder": str(root), **settings})
    return cache_dir() / "images" / f"{name}.json", _digest({"files": files, "skipped": skipped})


def _warn(what: str, path: Path, exc: BaseException) -> None:
    print(f"latentatlas: warning: image cache {what} {path}: {exc}; the folder is decoded instead",
          file=sys.stderr, flush=True)


def load(cache_key: tuple[Path, str], make):
    """`make(x, y, class_names, note, unusable)` from the cache when its signature matches; else None."""
    path, signature = cache_key
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
        if meta.get("signature") != signature:
            return None
        x = np.load(path.with_name(meta["array"]), allow_pickle=False)
        y = np.asarray(meta["labels"], dtype=np.int64)
        if x.dtype != np.uint8 or len(x) != len(y):
            raise ValueError(f"array {x.dtype} {x.shape} does not match {len(y)} labels")
        return make(x, y, list(meta["class_names"]), meta["note"], meta["unusable"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _warn("not readable:", path, exc)
        return None


def save(cache_key: tuple[Path, str], read) -> None:
    """Keep `read` (a FolderRead) for the next run; a cache that cannot be written is skipped."""
    from ..rundir.atomic import atomic_save, atomic_write_json

    path, signature = cache_key
    array = path.with_name(f"{path.stem}-{signature}.npy")

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:                   # a real file: numpy writes the array's own buffer
            np.save(f, np.ascontiguousarray(read.x), allow_pickle=False)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_save(array, write)
        atomic_write_json(path, {"format": FORMAT, "signature": signature, "array": array.name,
                                 "labels": read.y.tolist(), "class_names": list(read.class_names),
                                 "note": read.note, "unusable": read.unusable})
        for old in path.parent.glob(f"{path.stem}-*.npy"):     # the folder's earlier contents
            if old != array:
                old.unlink(missing_ok=True)
    except (OSError, UserError) as exc:            # RunWriteError: a full disk, a read-only cache
        _warn("not written:", path, exc)
