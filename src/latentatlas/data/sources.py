"""Where the IDX datasets are found, fetched and verified.

Search order for a named dataset (`mnist`, `fashion-mnist`):

    1. the `data_dir` argument (`--data-dir`); when given, it must hold the files
    2. $LATENTATLAS_DATA
    3. the cache: latentatlas.cache.cache_dir()/datasets/<name>/
    4. system dataset folders: /usr/share/datasets/<name>/ (Debian's
       dataset-fashion-mnist package installs there)
    5. a download from the official mirrors into the cache

Within a root we accept both ROOT/<name>/<files> and ROOT/<files>, each file
gzip-compressed (`.gz`) or not. Downloads are verified by the SHA-256 of the
*decompressed* bytes (gzip wrappers differ between mirrors, the content does
not) and written atomically, so an interrupted download never leaves a file
that looks complete.

Tests override `MIRRORS` / `SHA256` (module attributes) or set
$LATENTATLAS_MIRRORS, so no test touches the network.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError

# Split -> file stem, as the official distributions name them.
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the decompressed files (from ../shared/data/SHA256SUMS.decompressed).
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

# Official mirrors, tried in order; each file is <base><stem>.gz.
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}
MIRRORS_ENV = "LATENTATLAS_MIRRORS"   # comma-separated bases replacing MIRRORS; "{name}" is filled in
DATA_ENV = "LATENTATLAS_DATA"
SYSTEM_DIRS = [Path("/usr/share/datasets")]
DOWNLOAD_TIMEOUT = 30.0               # seconds without data before a mirror is given up
HASHED = "the decompressed bytes"     # what SHA256 is of (`data verify` says so)


@dataclass
class Located:
    """Where a dataset's four files were found (or the places looked, if not)."""

    name: str
    folder: Path | None = None
    paths: dict[str, Path] = field(default_factory=dict)   # split key -> file
    where: str = ""                                        # "--data-dir", "$LATENTATLAS_DATA", ...
    looked: list[str] = field(default_factory=list)        # human-readable, for errors

    @property
    def found(self) -> bool:
        return self.folder is not None


def dataset_cache_dir(name: str) -> Path:
    from ..cache import cache_dir

    return cache_dir() / "datasets" / name


def _find_file(folder: Path, stem: str) -> Path | None:
    for cand in (folder / stem, folder / (stem + ".gz")):
        if cand.is_file():
            return cand
    return None


def _check_folder(name: str, folder: Path) -> tuple[dict[str, Path], str]:
    """(paths found, a note for the 'looked' list)."""
    if not folder.is_dir():
        return {}, "no such folder"
    paths = {k: p for k, stem in FILES.items() if (p := _find_file(folder, stem)) is not None}
    if len(paths) == len(FILES):
        return paths, "found"
    if not paths:
        return paths, "no IDX files"
    missing = ", ".join(FILES[k] + "[.gz]" for k in FILES if k not in paths)
    return paths, f"incomplete, missing {missing}"


def search_places(name: str, data_dir: str | os.PathLike | None = None) -> list[tuple[str, list[Path]]]:
    """(label, folders to try) in search order.

    A user's root (--data-dir, $LATENTATLAS_DATA) is tried as ROOT/<name>/ then
    ROOT/; the cache and system folders only as <dir>/<name>/.
    """
    if data_dir is not None and str(data_dir) != "":
        root = Path(data_dir).expanduser()
        return [("--data-dir", [root / name, root])]   # an explicit folder is not second-guessed
    places: list[tuple[str, list[Path]]] = []
    env = os.environ.get(DATA_ENV)
    if env:
        root = Path(env).expanduser()
        places.append((f"${DATA_ENV}", [root / name, root]))
    places.append(("cache", [dataset_cache_dir(name)]))
    for sys_dir in SYSTEM_DIRS:
        places.append(("system", [sys_dir / name]))
    return places


def locate(name: str, data_dir: str | os.PathLike | None = None) -> Located:
    """Find the four IDX files of `name` without downloading; `.found` says if it did."""
    loc = Located(name)
    for label, folders in search_places(name, data_dir):
        for folder in folders:
            paths, note = _check_folder(name, folder)
            loc.looked.append(f"{folder} ({label}: {note})")
            if note == "found":
                loc.folder, loc.paths, loc.where = folder, paths, label
                return loc
    return loc


def mirror_bases(name: str, defaults: list[str] | None = None) -> list[str]:
    """$LATENTATLAS_MIRRORS if set, else `defaults` (MIRRORS[name] when not given)."""
    env = os.environ.get(MIRRORS_ENV)
    if defaults is None:
        defaults = MIRRORS.get(name, [])
    bases = [b.strip() for b in env.split(",") if b.strip()] if env else list(defaults)
    out = []
    for base in bases:
        base = base.replace("{name}", name)
        out.append(base if base.endswith("/") else base + "/")
    return out


def sha256_decompressed(path: Path) -> str:
    from .idx import read_raw_bytes

    return hashlib.sha256(read_raw_bytes(path)).hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 of the file's bytes as stored, read in chunks (archives of hundreds of MB)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def verify_files(name: str, paths: dict[str, Path]) -> list[tuple[Path, bool, str, str]]:
    """[(file, ok, expected, actual)] for each file, against SHA256[name]."""
    table = SHA256[name]
    results = []
    for key, path in paths.items():
        expected = table[FILES[key]]
        actual = sha256_decompressed(path)
        results.append((path, actual == expected, expected, actual))
    return results


def _download_one(url: str, dest: Path, expected_sha: str, timeout: float, progress: bool,
                  raw: bool = False) -> None:
    """Fetch `url` (gzip) to `dest` atomically, checking SHA-256 of the decompressed bytes
    (of the bytes as served when `raw`: archives whose published checksum is the file's own).

    Raises OSError-like errors for network trouble (the caller tries the next
    mirror) and UserError for a checksum mismatch.
    """
    import sys
    import tempfile
    import urllib.request

    from tqdm.auto import tqdm

    from .idx import read_raw_bytes

    req = urllib.request.Request(url, headers={"User-Agent": "latentatlas"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        # Only now that a mirror answered do we say so, and create anything on disk.
        if progress:
            print(f"downloading {url} -> {dest.parent}", file=sys.stderr, flush=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        tmp_path = Path(tmp)
        try:
            with os.fdopen(fd, "wb") as out:
                total = resp.headers.get("Content-Length")
                total = int(total) if total and total.isdigit() else None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=dest.name, leave=False,
                          **({} if progress else {"disable": True})) as bar:   # TQDM_DISABLE=1 also works
                    while True:
                        chunk = resp.read(1 << 16)
                        if not chunk:
                            break
                        out.write(chunk)
                        bar.update(len(chunk))
                if total is not None and out.tell() != total:
                    raise OSError(f"download ended after {out.tell()} of {total} bytes")
                out.flush()
                os.fsync(out.fileno())
            try:
                actual = sha256_file(tmp_path) if raw else hashlib.sha256(read_raw_bytes(tmp_path)).hexdigest()
            except UserError as exc:
                raise UserError(f"{url}: downloaded file is unreadable ({str(exc).split(': ', 1)[-1]})") from None
            if actual != expected_sha:
                what = "file" if raw else "decompressed bytes"
                raise UserError(f"{url}: checksum mismatch (SHA-256 of the {what} is "
                                f"{actual[:12]}..., expected {expected_sha[:12]}...); nothing was saved, "
                                "try again later or another mirror with $LATENTATLAS_MIRRORS")
            os.replace(tmp_path, dest)
        finally:
            tmp_path.unlink(missing_ok=True)


def download(name: str, timeout: float = DOWNLOAD_TIMEOUT, progress: bool = True,
             force: bool = False) -> Located:
    """Download the four files of `name` into the cache; UserError if no mirror answers.

    Files already in the cache with the right checksum are kept unless `force`.
    """
    if name not in SHA256:
        raise UserError(f"dataset {name!r} cannot be downloaded; known: {', '.join(SHA256)}")
    folder = dataset_cache_dir(name)
    bases = mirror_bases(name)
    paths: dict[str, Path] = {}
    for key, stem in FILES.items():
        dest = folder / (stem + ".gz")
        expected = SHA256[name][stem]
        if dest.is_file() and not force:
            try:
                if sha256_decompressed(dest) == expected:
                    paths[key] = dest
                    continue
            except UserError:
                pass   # a bad cached copy: fetch it again
        errors = []
        for base in bases:
            try:
                _download_one(base + stem + ".gz", dest, expected, timeout, progress)
                break
            except UserError as exc:
                errors.append(str(exc))
            except (OSError, ValueError) as exc:   # URLError, timeouts, HTTP errors, bad URLs
                reason = getattr(exc, "reason", None) or exc
                errors.append(f"{base}{stem}.gz: {reason}")
        else:
            raise UserError(f"could not download {name} ({'; '.join(errors) or 'no mirrors configured'}); "
                            "check the network, or copy the IDX files into a folder and pass --data-dir")
        paths[key] = dest
    return Located(name, folder, paths, "downloaded to cache", [])


def not_found_message(name: str, looked: list[str], download_error: str | None) -> str:
    places = "; ".join(looked)
    tail = f"; download failed: {download_error}" if download_error else "; download not attempted"
    return (f"dataset {name!r} not found. Looked in: {places}{tail}. "
            f"Fix: put the four IDX files ({', '.join(s + '.gz' for s in FILES.values())}) in a folder "
            f"and pass --data-dir FOLDER or set ${DATA_ENV}, or run `latentatlas data fetch {name}` "
            "on a machine with network access")
