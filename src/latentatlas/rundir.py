"""The run directory: the one place every pipeline stage reads and writes.

    runs/<name>/
      config.json          resolved configuration (data, model, train, analysis, generate)
      model.safetensors    weights (no pickle)
      model.json           what is needed to rebuild the model
      history.jsonl        one line per epoch
      checkpoint/          last.safetensors: weights, optimizer and loop state for --resume
      progress/            image grids saved as training progresses
      latents.npz          per split: means (and log-variances for a VAE), labels
      metrics.json         every figure the stages measured, one section per stage
      run.json             what `latentatlas run` finished, with which fingerprint
      figures/             PNG, GIF and interactive HTML pieces
      report.html          one file, readable offline
      .lock                held (flock) by the process writing the folder: its PID and command

Only this module knows these names and formats; stages ask a `RunDir`. Every
write goes through `atomic_write`: a temporary file in the same folder, fsync,
rename over the target, fsync of the folder. So an interrupted command never
leaves a file that looks complete, and a write that fails (full disk, read-only
file system, permissions) raises `RunWriteError`: one line naming the file, the
cause and the fix, with the file's previous version intact.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from .errors import UserError

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
MODEL_JSON = "model.json"
HISTORY = "history.jsonl"
LATENTS = "latents.npz"
METRICS = "metrics.json"
REPORT = "report.html"
PROGRESS_DIR = "progress"
FIGURES_DIR = "figures"
CHECKPOINT_DIR = "checkpoint"  # training state for --resume (optimizer, RNG, epoch)
CHECKPOINT = "last.safetensors"
RUN_STATE = "run.json"         # written by `latentatlas run`: which stages finished, with what fingerprint
LOCK = ".lock"                 # flock'ed by the writing process; holds its PID and command
TENSORBOARD_DIR = "tensorboard"  # --tensorboard logs (events, projector_config.pbtxt, the embedding)
TRACKING = "tracking.json"     # --mlflow: which MLflow run this run folder logs to
MAPS = "maps.npz"              # 2-D views (xy + the point indices each covers) and explorer colourings

# Files whose presence marks a folder as a latentatlas run (used before overwriting).
RUN_MARKERS = (CONFIG, MODEL_JSON, WEIGHTS, METRICS, HISTORY)


class RunWriteError(UserError):
    """A write into a run folder failed (disk full, read-only, permissions): one line, exit 2."""

    def __init__(self, path, cause: str, fix: str):
        self.path, self.cause, self.fix = Path(path), cause, fix
        super().__init__(f"could not write {self.path}: {cause}; {fix}")

    def with_hint(self, hint: str) -> "RunWriteError":
        """The same error with what the stage kept and how to continue appended."""
        return RunWriteError(self.path, self.cause, f"{self.fix}; {hint}")


class RunLockedError(UserError):
    """Another process is writing the run folder."""


class RunDir:
    """Paths inside one run directory, and every read and write of its files.

    Creates nothing until asked. Readers return plain Python / numpy objects; writers are
    atomic and durable, and raise RunWriteError (a UserError) when the disk refuses.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def figures(self) -> Path:
        return self.path / FIGURES_DIR

    @property
    def progress(self) -> Path:
        return self.path / PROGRESS_DIR

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT_DIR / CHECKPOINT

    def has(self, *names: str) -> bool:
        """Whether every named file (relative to the run) exists."""
        return all((self.path / n).is_file() for n in names)

    def has_model(self) -> bool:
        """Whether model.json and model.safetensors are both there."""
        return self.has(MODEL_JSON, WEIGHTS)

    def has_training(self) -> bool:
        """Whether a training wrote here (weights, history or a checkpoint)."""
        return any((self.path / n).exists() for n in (WEIGHTS, HISTORY)) or self.checkpoint_path.exists()

    def is_run(self) -> bool:
        return self.path.is_dir() and any((self.path / m).exists() for m in RUN_MARKERS)

    def check_writable(self) -> None:
        """Refuse, before any work, a path that is a file or a folder holding something else."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path} exists and is not a folder; choose another --out")
        if self.path.is_dir() and not self.is_run() and any(p.name != LOCK for p in self.path.iterdir()):
            raise UserError(f"{self.path} holds files that are not a latentatlas run; "
                            "refusing to write there (choose an empty or new --out folder)")

    def ensure(self) -> "RunDir":
        """Create the folder; refuse a non-empty folder that is not a run."""
        self.check_writable()
        _mkdir(self.path)
        return self

    def require(self, *names: str) -> None:
        """Fail with one clear line if the run lacks a file a stage needs."""
        if not self.path.is_dir():
            raise UserError(f"run directory {self.path} does not exist")
        for name in names:
            if not (self.path / name).exists():
                raise UserError(f"{self.path} has no {name}; "
                                f"run `latentatlas train --out {self.path}` (or `latentatlas run`) first")

    def digest(self, name: str) -> str | None:
        """sha256 (hex) of one file of the run, None when it is absent."""
        import hashlib

        path = self.path / name
        if not path.is_file():
            return None
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()

    def remove(self, *names: str) -> None:
        """Delete these files of the run where they exist (a failure is a RunWriteError)."""
        for name in names:
            path = self.path / name
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise write_error(path, exc) from None

    def lock(self, wait: bool = False, command: str | None = None):
        """Context manager: hold this folder's write lock (see `RunLock`)."""
        return RunLock(self, wait=wait, command=command)

    # -- config.json: the resolved settings, one section per stage ---------------------
    def read_config(self) -> dict:
        """config.json as a dict ({} when the run has none yet)."""
        path = self.path / CONFIG
        config = read_json(path) if path.exists() else {}
        return config if isinstance(config, dict) else {}

    def config_section(self, section: str) -> dict:
        """One stage's table of config.json ({} when absent)."""
        value = self.read_config().get(section)
        table = dict(value) if isinstance(value, dict) else {}
        if section == "data" and table and "color" not in table:
            # A run written before colour support (no `color` key) was trained on its data as it
            # was read then (a folder: grey, PNG/JPEG only, stretched to size): load it that way
            # again, so analyze/report/explore/encode of an old colour-photo run still fit its model.
            from .data.registry import settings_before_colour

            table.update(settings_before_colour(str(table.get("name", ""))))
        return table

    def write_config(self, config: dict) -> None:
        atomic_write_json(self.path / CONFIG, config)

    def update_config(self, sections: dict) -> dict:
        """Replace the given sections of config.json, keeping the others."""
        config = self.read_config()
        config.update(sections)
        self.write_config(config)
        return config

    # -- run.json: what `latentatlas run` finished, and with which fingerprint ----------
    def read_state(self) -> dict:
        """run.json ({} when absent or damaged: a damaged record only costs a re-run)."""
        path = self.path / RUN_STATE
        if not path.is_file():
            return {}
        try:
            state = read_json(path)
        except UserError:
            return {}
        return state if isinstance(state, dict) else {}

    def write_state(self, state: dict) -> None:
        atomic_write_json(self.path / RUN_STATE, state)

    # -- model.json + model.safetensors ------------------------------------------------
    def read_model_spec(self) -> dict:
        """model.json: what rebuilds the model (UserError when missing or damaged)."""
        if not (self.path / MODEL_JSON).exists():
            raise UserError(f"{self.path} has no {MODEL_JSON}; run `latentatlas train --out {self.path}` first")
        return read_json(self.path / MODEL_JSON)

    def write_model(self, weights: bytes, spec: dict) -> None:
        """model.safetensors (serialized bytes) then model.json, each atomically: weights first,
        so that a model.json never points at missing weights."""
        atomic_write_bytes(self.path / WEIGHTS, weights)
        atomic_write_json(self.path / MODEL_JSON, spec)

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS

    def write_checkpoint(self, data: bytes) -> None:
        """checkpoint/last.safetensors (serialized bytes), atomically."""
        atomic_write_bytes(self.checkpoint_path, data)

    def remove_training(self) -> None:
        """Starting afresh: drop a previous training's history, checkpoint, progress grids and
        the latents encoded by its model."""
        self.remove(HISTORY, LATENTS, f"{CHECKPOINT_DIR}/{CHECKPOINT}")
        if self.progress.is_dir():
            self.remove(*(f"{PROGRESS_DIR}/{f.name}" for f in self.progress.glob("epoch_*.png")))

    # -- history.jsonl: one line per epoch ------------------------------------------------
    def read_history(self) -> list[dict]:
        """The epochs recorded so far ([] when none); a torn last line is ignored."""
        path = self.path / HISTORY
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows

    def write_history(self, rows: list[dict]) -> None:
        """history.jsonl = these rows, one JSON object a line (rewritten whole, atomically)."""
        atomic_write_text(self.path / HISTORY, "".join(json.dumps(r) + "\n" for r in rows))

    # -- latents.npz ---------------------------------------------------------------------
    def read_latents(self) -> dict:
        """latents.npz as {name: array} (UserError when missing or unreadable)."""
        import numpy as np

        path = self.path / LATENTS
        if not path.exists():
            raise UserError(f"{path} does not exist; run `latentatlas encode {self.path}` first")
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError) as exc:
            raise UserError(f"{path} is unreadable ({exc}); delete it and run "
                            f"`latentatlas encode {self.path}`") from None

    def write_latents(self, arrays: dict) -> None:
        write_npz(self.path / LATENTS, arrays)
    # -- maps.npz: every 2-D view of the codes, tied to the latents.npz it was computed from --
    def _latents_stamp(self) -> str:
        st = (self.path / LATENTS).stat() if (self.path / LATENTS).exists() else None
        return f"{st.st_size}:{st.st_mtime_ns}" if st else ""

    def read_maps(self) -> dict:
        """maps.npz as {name: array} ({} when absent, damaged, or older than latents.npz's codes).

        Views are stored as `xy_<view>` float32 (M, 2) with `idx_<view>` int64 (M,), the rows
        (train then test) of latents.npz that they cover; other arrays are cached colourings."""
        import numpy as np

        path = self.path / MAPS
        if not path.is_file():
            return {}
        try:
            with np.load(path, allow_pickle=False) as npz:
                maps = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError):
            return {}                                   # a damaged cache only costs a recompute
        if str(maps.pop("latents_stamp", "")) != self._latents_stamp():
            return {}
        return maps

    def write_maps(self, arrays: dict) -> None:
        """Merge `arrays` into maps.npz (atomically), stamped with the current latents.npz."""
        import numpy as np

        maps = self.read_maps()
        maps.update(arrays)
        maps["latents_stamp"] = np.asarray(self._latents_stamp())
        atomic_save(self.path / MAPS, lambda tmp: np.savez(tmp, **maps))

    def add_map(self, view: str, xy, indices) -> None:
        """One 2-D view: coordinates (M, 2) of the latents.npz rows `indices` (M,)."""
        import numpy as np

        self.write_maps({f"xy_{view}": np.asarray(xy, np.float32)[:, :2],
                         f"idx_{view}": np.asarray(indices, np.int64)})

    # -- report.html and tracking.json ---------------------------------------------------
    def write_report(self, html: str) -> Path:
        """report.html (one self-contained page), atomically; returns its path."""
        atomic_write_text(self.path / REPORT, html)
        return self.path / REPORT

    def read_tracking(self) -> dict:
        """tracking.json: which MLflow run this folder logs to ({} when absent or damaged)."""
        path = self.path / TRACKING
        try:
            record = read_json(path) if path.is_file() else {}
        except UserError:
            record = {}
        return record if isinstance(record, dict) else {}

    def write_tracking(self, record: dict) -> None:
        atomic_write_json(self.path / TRACKING, record)

    # -- metrics.json: one section per stage ------------------------------------------
    def read_metrics(self) -> dict:
        return read_json(self.path / METRICS) if (self.path / METRICS).exists() else {}

    def write_metrics(self, metrics: dict) -> None:
        atomic_write_json(self.path / METRICS, metrics)

    def update_metrics(self, section: str, values: dict) -> dict:
        """Replace one stage's section of metrics.json, keeping the others."""
        metrics = self.read_metrics()
        metrics[section] = values
        self.write_metrics(metrics)
        return metrics

    def record_timing(self, stage: str, seconds: float) -> None:
        """metrics.json["timings"][stage] = seconds (wall clock of that stage)."""
        self.record_timings({stage: seconds})

    def record_timings(self, seconds: dict[str, float]) -> None:
        """Several stages' wall clocks in one write of metrics.json."""
        metrics = self.read_metrics()
        timings = metrics.setdefault("timings", {})
        for stage, s in seconds.items():
            timings[stage] = round(float(s), 3)
        self.write_metrics(metrics)

    def forget_timings(self, prefixes: list[str]) -> None:
        """Drop metrics.json["timings"] entries starting with any of these prefixes."""
        metrics = self.read_metrics()
        timings = metrics.get("timings") or {}
        stale = [k for k in timings if any(k.startswith(p) for p in prefixes)]
        if stale:
            for k in stale:
                del timings[k]
            self.write_metrics(metrics)


# -- the lock ------------------------------------------------------------------------------

class RunLock:
    """An exclusive flock on <run>/.lock while a process writes the run folder.

    The kernel drops a flock when its holder dies, however it dies, so a lock left by a
    killed process never blocks: the file may remain, but nobody holds it. Re-entrant
    within one process (run_pipeline takes it, then each stage it calls takes it again):
    the process keeps one descriptor per folder and counts the nesting. The lock file is
    removed by the last release (while still held; an acquirer checks that the file it
    locked is still the one at the path, so removing it is safe).
    """

    _held: dict[str, list] = {}          # realpath -> [fd, depth, folders it created]
    _guard = threading.Lock()

    def __init__(self, run: RunDir, wait: bool = False, command: str | None = None):
        self.run, self.wait = run, wait
        self.command = command or _command_line()

    def __enter__(self) -> RunDir:
        key = self._key = os.path.realpath(self.run.path)
        with RunLock._guard:
            held = RunLock._held.get(key)
            if held is not None:
                held[1] += 1
                return self.run
        self.run.check_writable()
        created = _missing_folders(self.run.path)
        fd = _acquire(self.run.path, self.wait, self.command)
        with RunLock._guard:
            RunLock._held[key] = [fd, 1, created]
        return self.run

    def __exit__(self, *exc) -> bool:
        key = self._key
        with RunLock._guard:
            held = RunLock._held[key]
            held[1] -= 1
            if held[1]:
                return False
            del RunLock._held[key]
        fd, _, created = held
        with contextlib.suppress(OSError):
            os.unlink(self.run.path / LOCK)
        os.close(fd)                       # releases the flock
        for folder in created:             # a command that failed before writing leaves nothing
            try:
                folder.rmdir()             # only succeeds when empty
            except OSError:
                break
        return False


def _missing_folders(path: Path) -> list[Path]:
    """The folders that creating `path` would make, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def _command_line() -> str:
    """How the holder was started, for the refusal message: "latentatlas train"."""
    prog = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if prog in ("__main__.py", "-m", "-c"):
        prog = "latentatlas"
    words = [prog] + [a for a in sys.argv[1:2] if not a.startswith("-")]
    return " ".join(words)


def _acquire(folder: Path, wait: bool, command: str) -> int:
    """flock <folder>/.lock (LOCK_EX); returns the open descriptor, holder info written in it."""
    import fcntl

    path = folder / LOCK
    while True:
        _mkdir(folder)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:          # the folder was removed in between: try again
            continue
        except OSError as exc:
            raise write_error(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise RunLockedError(f"{folder} is being written by {_holder(path)}; "
                                 "wait for it, or pass --wait") from None
        try:                               # still the file at the path (not unlinked by its last holder)?
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps({"pid": os.getpid(), "command": command,
                                      "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
                          + "\n").encode())
        except OSError as exc:
            os.close(fd)
            raise write_error(path, exc) from None
        return fd


def _holder(path: Path) -> str:
    """"PID 1234 (latentatlas train)", from the lock file (it may be mid-write: retry briefly)."""
    for _ in range(20):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
            return f"PID {info['pid']} ({info.get('command') or 'latentatlas'})"
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)
    return "another process"


# -- the one atomic, durable writer -------------------------------------------------------------

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
