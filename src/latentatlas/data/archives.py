"""Datasets published as one archive or one file per split (CIFAR-10, SVHN):
where they are found, fetched and verified.

The search order is the IDX datasets' (sources.search_places: --data-dir,
$LATENTATLAS_DATA as ROOT/<name>/ then ROOT/, the cache, /usr/share/datasets/<name>/),
then a download from the official site into the cache, with a progress bar,
written atomically and verified by the SHA-256 of the file as published
(these files are not gzip-wrapped by mirrors, so the file's own digest is the
one to check). $LATENTATLAS_MIRRORS replaces the official site, as for mnist.

Tests override `SHA256` / `REMOTES` (module attributes) or set
$LATENTATLAS_MIRRORS, so no test touches the network.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UserError
from . import ImageDataset, sources
from .sources import Located, dataset_cache_dir, search_places

HASHED = "the file"    # what SHA256 is of (`data verify` says so)
# SHA-256 of the published files, by dataset (TensorFlow Datasets' download checksums), and
# how each is published: filled by each dataset's module (cifar.py, svhn.py) through `register`,
# so this generic code imports none of them.
SHA256: dict[str, dict[str, str]] = {}


@dataclass(frozen=True)
class Remote:
    """How one dataset is published: its files (split key -> file name), the official
    base URLs (each file is <base><file name>), and what to tell a user to put in a folder."""

    files: dict[str, str]
    mirrors: tuple[str, ...]
    find: Callable[[Path], tuple[dict[str, Path], str]]
    read: Callable[[dict[str, Path]], tuple]      # paths -> x_train, y_train, x_test, y_test, class names
    wanted: str


REMOTES: dict[str, Remote] = {}


def register(name: str, remote: Remote, sha256: dict[str, str]) -> Remote:
    """A dataset's module says how it is published (called once, at its import)."""
    REMOTES[name] = remote
    SHA256[name] = sha256
    return remote


def locate(name: str, data_dir: str | os.PathLike | None = None) -> Located:
    """Find `name`'s files without downloading; `.found` says if it did."""
    remote = REMOTES[name]
    loc = Located(name)
    for label, folders in search_places(name, data_dir):
        for folder in folders:
            paths, note = remote.find(folder)
            loc.looked.append(f"{folder} ({label}: {note})")
            if note == "found":
                loc.folder, loc.paths, loc.where = folder, paths, label
                return loc
    return loc


def _cached_ok(dest: Path, expected: str) -> bool:
    try:
        return dest.is_file() and sources.sha256_file(dest) == expected
    except UserError:
        return False   # an unreadable cached copy: fetch it again


def _fetch_file(name: str, fname: str, dest: Path, bases: list[str], timeout: float, progress: bool) -> None:
    """Try each mirror in turn; UserError listing every failure if none delivers a good file."""
    errors = []
    for base in bases:
        try:
            sources._download_one(base + fname, dest, SHA256[name][fname], timeout, progress, raw=True)
            return
        except UserError as exc:
            errors.append(str(exc))
        except (OSError, ValueError) as exc:   # URLError, timeouts, HTTP errors, bad URLs
            errors.append(f"{base}{fname}: {getattr(exc, 'reason', None) or exc}")
    raise UserError(f"could not download {name} ({'; '.join(errors) or 'no mirrors configured'}); "
                    f"check the network, or copy {REMOTES[name].wanted} into a folder and pass --data-dir")


def download(name: str, timeout: float = sources.DOWNLOAD_TIMEOUT, progress: bool = True,
             force: bool = False) -> Located:
    """Download `name`'s files into the cache; files already there with the right
    checksum are kept unless `force`. UserError if no mirror delivers a good copy."""
    remote = REMOTES[name]
    folder = dataset_cache_dir(name)
    bases = sources.mirror_bases(name, list(remote.mirrors))
    paths = {}
    for key, fname in remote.files.items():
        dest = folder / fname
        if force or not _cached_ok(dest, SHA256[name][fname]):
            _fetch_file(name, fname, dest, bases, timeout, progress)
        paths[key] = dest
    return Located(name, folder, paths, "downloaded to cache", [])


def find_or_fetch(name: str, data_dir=None, download_ok: bool = True, timeout: float | None = None) -> Located:
    """Where `name` is, downloading it when allowed and not found; UserError saying where we looked."""
    loc = locate(name, data_dir)
    if loc.found:
        return loc
    if data_dir is not None and str(data_dir) != "":
        raise UserError(f"dataset {name!r} not found in --data-dir {data_dir} (looked in: {'; '.join(loc.looked)}); "
                        f"put {REMOTES[name].wanted} there, or leave out --data-dir to search elsewhere "
                        "and download")
    error = None
    if download_ok:
        try:
            return download(name, **({"timeout": timeout} if timeout else {}))
        except UserError as exc:
            error = str(exc)
    raise UserError(not_found_message(name, loc.looked, error))


def load_remote(name: str, data_dir=None, download_ok: bool = True, timeout: float | None = None) -> ImageDataset:
    """cifar10 or svhn from its published files, found or (when allowed) downloaded."""
    loc = find_or_fetch(name, data_dir, download_ok, timeout)
    x_tr, y_tr, x_te, y_te, names = REMOTES[name].read(loc.paths)
    return ImageDataset(name, x_tr, y_tr, x_te, y_te, names, f"{loc.folder} ({loc.where})",
                        list(range(len(names))))


def not_found_message(name: str, looked: list[str], download_error: str | None) -> str:
    tail = f"; download failed: {download_error}" if download_error else "; download not attempted"
    return (f"dataset {name!r} not found. Looked in: {'; '.join(looked)}{tail}. "
            f"Fix: put {REMOTES[name].wanted} in a folder and pass --data-dir FOLDER or set "
            f"${sources.DATA_ENV}, or run `latentatlas data fetch {name}` on a machine with network access")


def verify_files(name: str, paths: dict[str, Path]) -> list[tuple[Path, bool | None, str, str]]:
    """[(file, ok, expected, actual)] against SHA256[name]; ok is None for an extracted
    folder, which has no published checksum (its files are checked when read)."""
    results = []
    for key, path in paths.items():
        expected = SHA256[name][REMOTES[name].files[key]]
        if path.is_dir():
            results.append((path, None, expected, ""))
            continue
        actual = sources.sha256_file(path)
        results.append((path, actual == expected, expected, actual))
    return results
