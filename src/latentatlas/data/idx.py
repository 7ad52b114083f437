"""IDX files (the MNIST format): reading with validation, and writing.

Format (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): a 4-byte magic
number `0x00 0x00 <type> <ndim>`, then `ndim` big-endian uint32 dimension
sizes, then the values in C order, big-endian. MNIST and Fashion-MNIST use
type 0x08 (unsigned byte): images are (N, 28, 28), labels (N,).

Files may be gzip-compressed; we decide by the gzip magic bytes (1f 8b), not by
the file name, so a renamed file still reads. Every problem a user's file can
have ends in a `UserError` that names the file and what is wrong with it.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import UserError

GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> numpy dtype (big-endian where it matters).
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: code for code, dt in IDX_DTYPES.items()}

FIX_HINT = "replace it with a good copy (or delete it and run `latentatlas data fetch`)"


def read_raw_bytes(path: str | Path) -> bytes:
    """The file's content, decompressed if it is gzip; UserError if unreadable or truncated."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, not an IDX file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if data[:2] == GZIP_MAGIC:
        try:
            return gzip.decompress(data)
        except EOFError:
            raise UserError(f"{path}: truncated gzip file (the compressed stream ends early); "
                            f"{FIX_HINT}") from None
        except (gzip.BadGzipFile, zlib.error, OSError) as exc:
            raise UserError(f"{path}: corrupt gzip file ({exc}); {FIX_HINT}") from None
    return data


def parse_idx(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a new (writable, native-order) array; `name` is used in errors."""
    if len(data) < 4:
        raise UserError(f"{name}: not an IDX file (only {len(data)} bytes, shorter than the "
                        f"4-byte magic number); {FIX_HINT}")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES or data[3] == 0:
        raise UserError(f"{name}: not an IDX file (wrong magic number 0x{data[:4].hex()}, "
                        f"expected 0x0000TTNN with a known type TT and NN >= 1 dimensions); {FIX_HINT}")
    dtype = IDX_DTYPES[data[2]]
    ndim = data[3]
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise UserError(f"{name}: truncated IDX header ({ndim} dimensions need {offset} bytes, "
                        f"the file holds {len(data)}); {FIX_HINT}")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - offset
    if actual != expected:
        dims = "x".join(str(s) for s in shape)
        raise UserError(f"{name}: dimensions {dims} need {expected} bytes of data but the file holds "
                        f"{actual} ({'truncated' if actual < expected else 'extra bytes at the end'}); "
                        f"{FIX_HINT}")
    arr = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    # One copy: native byte order, and writable (a view of `bytes` is read-only, which
    # torch.from_numpy warns about and in-place ops refuse).
    return arr.astype(dtype.newbyteorder("=") if dtype.itemsize > 1 else dtype, copy=True)


def read_idx(path: str | Path, ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (gzip or not); with `ndim`, also require that many dimensions."""
    arr = parse_idx(read_raw_bytes(path), str(path))
    if ndim is not None and arr.ndim != ndim:
        kind = {1: "a label file (1 dimension)", 3: "an image file (3 dimensions: N, H, W)"}.get(
            ndim, f"{ndim}-dimensional")
        raise UserError(f"{path}: has {arr.ndim} dimensions {arr.shape}, expected {kind}; "
                        "check that image and label files are not swapped")
    return arr


def encode_idx(arr: np.ndarray) -> bytes:
    """The IDX bytes of an array (uint8, int8, int16, int32, float32, float64)."""
    arr = np.asarray(arr)
    key = arr.dtype.newbyteorder("=") if arr.dtype.itemsize > 1 else arr.dtype
    if key not in _CODES:
        raise ValueError(f"IDX cannot hold dtype {arr.dtype}")
    if arr.ndim == 0 or arr.ndim > 255:
        raise ValueError("IDX needs 1 to 255 dimensions")
    code = _CODES[key]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return header + np.ascontiguousarray(arr, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path: str | Path, arr: np.ndarray, compress: bool | None = None) -> Path:
    """Write an IDX file atomically; gzip it when `compress` (default: path ends in .gz)."""
    from ..rundir import atomic_write_bytes

    path = Path(path)
    data = encode_idx(arr)
    if compress if compress is not None else path.suffix == ".gz":
        # mtime=0: the same array always gives the same bytes.
        data = gzip.compress(data, compresslevel=6, mtime=0)
    atomic_write_bytes(path, data)
    return path
