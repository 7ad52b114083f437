"""RunDir: the paths inside one run folder, and every read and write of its files.

The names and formats are in files.py, the writer in atomic.py, the lock in lock.py and
the format versions in migrations.py; this class is what the stages ask.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import UserError
from . import migrations
from .atomic import _mkdir, atomic_save, atomic_write_bytes, atomic_write_json, atomic_write_text, read_json, \
    write_error, write_npz
from .files import (CHECKPOINT, CHECKPOINT_DIR, CONFIG, FIGURES_DIR, FORMAT_KEY, FORMAT_VERSION, HISTORY,
                    LATENTS, LOCK, MAPS, METRICS, MODEL_JSON, PROGRESS_DIR, REPORT, RUN_MARKERS, RUN_STATE,
                    TRACKING, WEIGHTS)
from .lock import RunLock


class RunDir:
    """Paths inside one run directory, and every read and write of its files.

    Creates nothing until asked. Readers return plain Python / numpy objects; writers are
    atomic and durable, and raise RunWriteError (a UserError) when the disk refuses. After a
    write into a run, run.json records the folder's format version (migrations.py).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._format_recorded = False

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
        """Refuse, before any work, a path that is a file, a folder holding something else, or a
        run in a format newer than this release writes."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path} exists and is not a folder; choose another --out")
        if self.path.is_dir() and not self.is_run() and any(p.name != LOCK for p in self.path.iterdir()):
            raise UserError(f"{self.path} holds files that are not a latentatlas run; "
                            "refusing to write there (choose an empty or new --out folder)")
        migrations.recorded_version(self.read_state(), self.path / RUN_STATE)

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

    # -- the folder's format version (run.json "format_version", see migrations.py) -----
    def format_version(self) -> int:
        """The run format of this folder: recorded, else 0 or 1 (UserError when newer than ours)."""
        return migrations.version_of(self.read_state(), self._config_as_written(), self.path / RUN_STATE)

    def _record_format(self) -> None:
        """After a write: run.json records FORMAT_VERSION, once this folder is a run whose
        format can be brought up to it on disk (migrations.recordable)."""
        if self._format_recorded or not self.is_run():
            return
        state = self.read_state()
        if state.get(FORMAT_KEY) == FORMAT_VERSION:
            self._format_recorded = True
        elif migrations.recordable(self.format_version()):
            self.write_state(state)

    # -- config.json: the resolved settings, one section per stage ---------------------
    def _config_as_written(self) -> dict:
        path = self.path / CONFIG
        config = read_json(path) if path.exists() else {}
        return config if isinstance(config, dict) else {}

    def read_config(self) -> dict:
        """config.json as a dict, as written ({} when the run has none yet); a folder of a
        newer run format is refused."""
        config = self._config_as_written()
        migrations.recorded_version(self.read_state(), self.path / RUN_STATE)
        return config

    def config_section(self, section: str) -> dict:
        """One stage's table of config.json ({} when absent), as this release reads it: an
        older folder's table upgraded in memory (migrations.upgrade)."""
        config = self._config_as_written()
        version = migrations.version_of(self.read_state(), config, self.path / RUN_STATE)
        value = migrations.upgrade(config, version).get(section)
        return dict(value) if isinstance(value, dict) else {}

    def write_config(self, config: dict) -> None:
        atomic_write_json(self.path / CONFIG, config)
        self._record_format()

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
        """run.json = `state`, headed by format_version where the folder can record it."""
        state = {k: v for k, v in state.items() if k != FORMAT_KEY}
        record = self.is_run() and migrations.recordable(self.format_version())
        atomic_write_json(self.path / RUN_STATE, {FORMAT_KEY: FORMAT_VERSION, **state} if record else state)
        self._format_recorded = record

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
        self._record_format()

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS

    def write_checkpoint(self, data: bytes) -> None:
        """checkpoint/last.safetensors (serialized bytes), atomically."""
        atomic_write_bytes(self.checkpoint_path, data)
        self._record_format()

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
        self._record_format()

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
        self._record_format()

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
        self._record_format()

    def add_map(self, view: str, xy, indices) -> None:
        """One 2-D view: coordinates (M, 2) of the latents.npz rows `indices` (M,)."""
        import numpy as np

        self.write_maps({f"xy_{view}": np.asarray(xy, np.float32)[:, :2],
                         f"idx_{view}": np.asarray(indices, np.int64)})

    # -- report.html and tracking.json ---------------------------------------------------
    def write_report(self, html: str) -> Path:
        """report.html (one self-contained page), atomically; returns its path."""
        atomic_write_text(self.path / REPORT, html)
        self._record_format()
        return self.path / REPORT

    def read_tracking(self) -> dict:
        """tracking.json: which MLflow and W&B runs this folder logs to ({} when absent or damaged)."""
        path = self.path / TRACKING
        try:
            record = read_json(path) if path.is_file() else {}
        except UserError:
            record = {}
        return record if isinstance(record, dict) else {}

    def write_tracking(self, record: dict) -> None:
        atomic_write_json(self.path / TRACKING, record)
        self._record_format()

    # -- metrics.json: one section per stage ------------------------------------------
    def read_metrics(self) -> dict:
        return read_json(self.path / METRICS) if (self.path / METRICS).exists() else {}

    def write_metrics(self, metrics: dict) -> None:
        atomic_write_json(self.path / METRICS, metrics)
        self._record_format()

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
