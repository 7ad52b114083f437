"""The one atomic, durable writer of run files (and of the few files written beside them).

Every write fills a temporary file in the same folder, fsyncs it, renames it over the
target and fsyncs the folder: an interrupted command never leaves a file that looks
complete. A write the disk refuses (full disk, read-only file system, permissions)
raises `RunWriteError`: one line naming the file, the cause and the fix, with the file's
previous version intact.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import secrets
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError


class RunWriteError(UserError):
    """A write into a run folder failed (disk full, read-only, permissions): one line, exit 2."""

    def __init__(self, path, cause: str, fix: str):
        self.path, self.cause, self.fix = Path(path), cause, fix
        super().__init__(f"could not write {self.path}: {cause}; {fix}")

    def with_hint(self, hint: str) -> "RunWriteError":
        """The same error with what the stage kept and how to continue appended."""
        return RunWriteError(self.path, self.cause, f"{self.fix}; {hint}")


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> None:
    """Write `path` atomically and durably: `write(tmp)` fills a temporary file in the same
    folder (created with the umask's permissions, as open() would), which is fsynced and
    renamed over `path`; then the folder is fsynced so the rename survives a power cut.

    An OSError from the disk (ENOSPC, EROFS, EACCES, ...) becomes a RunWriteError naming the
    file, the cause and the fix; the temporary file is removed and `path` keeps its old content.
    """
    path = Path(path)
    tmp = None
    try:
        _mkdir(path.parent)
        tmp = _create_temp(path)
        write(tmp)
        _fsync_file(tmp)
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
    except RunWriteError:
        raise
    except OSError as exc:
        if exc.errno is None:              # a library's own complaint, not the disk's
            raise
        raise write_error(path, exc) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _create_temp(path: Path) -> str:
    """An empty new file beside `path`, mode 0o666 & ~umask; its name keeps path's suffix
    (numpy and matplotlib choose the format from it)."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
            return str(tmp)
        except FileExistsError:
            continue


def _fsync_file(tmp: str) -> None:
    fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:                 # some file systems cannot sync a folder; the rename stands
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"{folder} exists and is not a folder; choose another --out") from None
    except OSError as exc:
        raise write_error(folder, exc) from None


# errno -> (cause, fix) for the one-line message
_FIXES = {
    errno.ENOSPC: ("no space left on the device", "free some space on that disk or choose another --out"),
    errno.EDQUOT: ("disk quota exceeded", "free some space within your quota or choose another --out"),
    errno.EROFS: ("the file system is read-only", "choose an --out folder on a writable disk"),
    errno.EACCES: ("permission denied", "make the folder writable for you or choose another --out"),
    errno.EPERM: ("operation not permitted", "make the folder writable for you or choose another --out"),
    errno.EIO: ("input/output error", "check the disk, then try again or choose another --out"),
}


def write_error(path, exc: OSError) -> RunWriteError:
    """The RunWriteError for an OSError met while writing `path`."""
    cause, fix = _FIXES.get(exc.errno, (exc.strerror or str(exc), "check the disk, then try again or "
                                        "choose another --out"))
    name = errno.errorcode.get(exc.errno)
    return RunWriteError(path, f"{cause} ({name})" if name else cause, fix)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(data)

    atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_clean(obj), indent=2, sort_keys=False) + "\n")


def atomic_save(path: str | os.PathLike, writer) -> None:
    """For libraries that want a filename: `writer(tmp_path)` writes it (same writer as above)."""
    atomic_write(path, writer)


def write_npz(path: str | os.PathLike, arrays: dict) -> None:
    """An uncompressed .npz of these arrays, atomically (serialized in memory first, so a
    full disk surfaces as an OSError of our own write)."""
    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    atomic_write_bytes(path, buf.getvalue())


def _clean(obj: Any) -> Any:
    """JSON cannot hold NaN/inf or numpy scalars; make them plain (NaN -> None)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy scalar / array
        return _clean(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); delete it or re-run the stage that writes it") from None
