"""CIFAR-10, binary version: reading the official archive or its extracted folder.

Format (https://www.cs.toronto.edu/~kriz/cifar.html, "Binary version"): the
archive `cifar-10-binary.tar.gz` holds `cifar-10-batches-bin/` with
`data_batch_1.bin` .. `data_batch_5.bin` (training) and `test_batch.bin`, each
10,000 records of 3,073 bytes: one label byte (0..9), then the 32x32 red,
green and blue planes, row by row. So a record is already channel-first:
(3, 32, 32). `batches.meta.txt` lists the class names, one per line.

Only this version is read. The "python version" of CIFAR-10 is pickles, and a
pickle can run code when loaded: we never load one, nor import pickle. The
archive is read member by member in one pass (tarfile's stream mode, so the
gzip stream is decompressed once), nothing is extracted to disk, and a member
that is a link rather than a regular file is refused.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import UserError
from .archives import Remote, load_remote, register
from .entry import DataRequest, DatasetEntry

ARCHIVE = "cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_BATCHES = ["test_batch.bin"]
META = "batches.meta.txt"
MEMBERS = [*TRAIN_BATCHES, *TEST_BATCHES, META]
SHAPE = (3, 32, 32)
RECORD = 1 + 3 * 32 * 32          # 3,073 bytes: label, then R, G, B planes
RECORDS_PER_BATCH = 10_000        # every official batch; tests lower it for small synthetic files
META_MAX_BYTES = 1 << 16          # the real one is 61 bytes; a bigger member is not a class list
FIX_HINT = f"replace it with a good copy of {ARCHIVE} (or delete it and run `latentatlas data fetch cifar10`)"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# SHA-256 of the published archive, from TensorFlow Datasets' download checksums
# (github.com/tensorflow/datasets, tensorflow_datasets/url_checksums/cifar10.txt; 170,052,171 bytes).
SHA256 = {ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"}
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
WANTED = f"{ARCHIVE} (or its extracted {FOLDER}/ folder)"   # what to put in a folder, in messages


def find_cifar(folder: Path) -> tuple[dict[str, Path], str]:
    """({"archive": path}, "found") when `folder` holds the archive, its extracted
    cifar-10-batches-bin/ folder, or the batch files themselves; else ({}, why not)."""
    if not folder.is_dir():
        return {}, "no such folder"
    if (folder / ARCHIVE).is_file():
        return {"archive": folder / ARCHIVE}, "found"
    for cand in (folder / FOLDER, folder):
        present = [m for m in MEMBERS if (cand / m).is_file()]
        if len(present) == len(MEMBERS):
            return {"archive": cand}, "found"
        if present:
            missing = ", ".join(m for m in MEMBERS if m not in present)
            return {}, f"incomplete CIFAR-10 folder {cand.name}/, missing {missing}"
    return {}, f"no {ARCHIVE} or {FOLDER}/"


def _wanted_name(member_name: str) -> str | None:
    """The member's file name if it is one we read (at the top or under cifar-10-batches-bin/)."""
    parts = [p for p in PurePosixPath(member_name).parts if p not in (".", "")]
    if parts and parts[-1] in MEMBERS and (len(parts) == 1 or (len(parts) == 2 and parts[0] == FOLDER)):
        return parts[-1]
    return None


def _member_size_ok(name: str, size: int) -> bool:
    return size <= META_MAX_BYTES if name == META else size == RECORDS_PER_BATCH * RECORD


def _read_tar(path: Path) -> dict[str, bytes]:
    """File name -> bytes for the members we read, in one streaming pass over the archive."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                name = _wanted_name(member.name)
                if name is None or name in found:
                    continue
                if not member.isreg():   # a symlink or hard link could point anywhere: never followed
                    raise UserError(f"{path}: member {member.name} is a link, not a file; "
                                    f"this is not the official archive; {FIX_HINT}")
                if not _member_size_ok(name, member.size):
                    raise _bad_batch_size(f"{path}: member {member.name}", name, member.size)
                found[name] = tar.extractfile(member).read()
    except UserError:
        raise
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except PermissionError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        # gzip and tar raise several kinds for a cut or damaged file; all mean the same to a user.
        raise UserError(f"{path}: corrupt or truncated archive ({exc}); {FIX_HINT}") from None
    return found


def _read_folder(folder: Path) -> dict[str, bytes]:
    found = {}
    for name in MEMBERS:
        try:
            found[name] = (folder / name).read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UserError(f"{folder / name}: cannot be read ({exc.strerror or exc})") from None
        if not _member_size_ok(name, len(found[name])):
            raise _bad_batch_size(str(folder / name), name, len(found[name]))
    return found


def _bad_batch_size(where: str, name: str, size: int) -> UserError:
    if name == META:
        return UserError(f"{where}: {size} bytes is too large for a class-name list; {FIX_HINT}")
    records, rest = divmod(size, RECORD)
    state = (f"holds {size} bytes, not a whole number of {RECORD}-byte records (truncated)" if rest
             else f"holds {records} records, expected {RECORDS_PER_BATCH}")
    return UserError(f"{where}: {state}; {FIX_HINT}")


def decode_batch(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch's bytes -> images (N, 3, 32, 32) uint8 and labels (N,) int64."""
    if len(data) % RECORD:
        raise _bad_batch_size(where, "batch", len(data))
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)   # (N, 3073)
    labels = records[:, 0].astype(np.int64)
    if len(labels) and int(labels.max()) > 9:
        raise UserError(f"{where}: label {int(labels.max())} is out of range 0..9; {FIX_HINT}")
    return np.ascontiguousarray(records[:, 1:]).reshape(-1, *SHAPE), labels   # (N, 3, 32, 32)


def decode_meta(data: bytes, where: str) -> list[str]:
    """batches.meta.txt -> the 10 class names, in label order."""
    try:
        names = [line.strip() for line in data.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise UserError(f"{where}: not a text file of class names; {FIX_HINT}") from None
    if len(names) != 10 or len(set(names)) != 10:
        raise UserError(f"{where}: lists {len(names)} class names, expected 10 different ones; {FIX_HINT}")
    return names


def read_cifar(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """x_train (50000, 3, 32, 32) uint8, y_train int64, x_test, y_test, class names,
    from the archive `cifar-10-binary.tar.gz` or a folder holding its batch files."""
    path = Path(path)
    members = _read_folder(path) if path.is_dir() else _read_tar(path)
    missing = [m for m in MEMBERS if m not in members]
    if missing:
        raise UserError(f"{path}: has no {', '.join(missing)}; it is not the CIFAR-10 binary version "
                        f"(the python version, of pickles, is never read); {FIX_HINT}")
    where = (lambda m: str(path / m)) if path.is_dir() else (lambda m: f"{path}: member {m}")
    names = decode_meta(members[META], where(META))
    parts = {}
    for split, batches in (("train", TRAIN_BATCHES), ("test", TEST_BATCHES)):
        xs, ys = zip(*(decode_batch(members.pop(b), where(b)) for b in batches))
        parts[split] = (np.concatenate(xs), np.concatenate(ys))
    return (*parts["train"], *parts["test"], names)


def read_files(paths: dict[str, Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """read_cifar of the located archive or folder (`paths["archive"]`)."""
    return read_cifar(paths["archive"])


def _load(req: DataRequest):
    return load_remote(req.name, req.data_dir, req.download, req.timeout)


ENTRY = DatasetEntry(
    "cifar10", "CIFAR-10 (Krizhevsky, 2009), 50k/10k 32x32 colour, 10 classes, binary version",
    _load, channels=3, image_size=32, class_names=CLASS_NAMES, files={"archive": ARCHIVE}, checksums=SHA256,
    urls=MIRRORS, store="archives")

REMOTE = register("cifar10", Remote(dict(ENTRY.files), MIRRORS, find_cifar, read_files, WANTED), SHA256)
