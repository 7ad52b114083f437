"""The run directory: the one place every pipeline stage reads and writes.

    runs/<name>/
      config.json          resolved configuration (data, model, train, analysis, generate)
      model.safetensors    weights (no pickle)
      model.json           what is needed to rebuild the model
      history.jsonl        one line per epoch
      progress/            image grids saved as training progresses
      latents.npz          per split: means (and log-variances for a VAE), labels
      metrics.json         every figure the stages measured, one section per stage
      figures/             PNG, GIF and interactive HTML pieces
      report.html          one file, readable offline

Every write goes through `atomic_write_*` so that an interrupted command never
leaves a file that looks complete.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

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
RUN_STATE = "run.json"         # written by `latentatlas run`: which stages finished, with what fingerprint
MAPS = "maps.npz"              # 2-D views (xy + the point indices each covers) and explorer colourings

# Files whose presence marks a folder as a latentatlas run (used before overwriting).
RUN_MARKERS = (CONFIG, MODEL_JSON, WEIGHTS, METRICS, HISTORY)


class RunDir:
    """Paths inside one run directory; creates nothing until asked."""

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

    def is_run(self) -> bool:
        return self.path.is_dir() and any((self.path / m).exists() for m in RUN_MARKERS)

    def ensure(self) -> "RunDir":
        """Create the folder; refuse a non-empty folder that is not a run."""
        if self.path.exists() and not self.path.is_dir():
            raise UserError(f"{self.path} exists and is not a folder; choose another --out")
        if self.path.is_dir() and any(self.path.iterdir()) and not self.is_run():
            raise UserError(f"{self.path} holds files that are not a latentatlas run; "
                            "refusing to write there (choose an empty or new --out folder)")
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def require(self, *names: str) -> None:
        """Fail with one clear line if the run lacks a file a stage needs."""
        if not self.path.is_dir():
            raise UserError(f"run directory {self.path} does not exist")
        for name in names:
            if not (self.path / name).exists():
                raise UserError(f"{self.path} has no {name}; "
                                f"run `latentatlas train --out {self.path}` (or `latentatlas run`) first")

    # -- config.json: the resolved settings, one section per stage ---------------------
    def read_config(self) -> dict:
        """config.json as a dict ({} when the run has none yet)."""
        path = self.path / CONFIG
        config = read_json(path) if path.exists() else {}
        return config if isinstance(config, dict) else {}

    def config_section(self, section: str) -> dict:
        """One stage's table of config.json ({} when absent)."""
        value = self.read_config().get(section)
        return dict(value) if isinstance(value, dict) else {}

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

    # -- history.jsonl: one line per epoch ------------------------------------------------
    def read_history(self) -> list[dict]:
        """The epochs recorded so far ([] when none); a torn last line is ignored."""
        path = self.path / HISTORY
        if not path.is_file():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows

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

    # -- metrics.json: one section per stage ------------------------------------------
    def read_metrics(self) -> dict:
        return read_json(self.path / METRICS) if (self.path / METRICS).exists() else {}

    def update_metrics(self, section: str, values: dict) -> dict:
        """Replace one stage's section of metrics.json, keeping the others."""
        metrics = self.read_metrics()
        metrics[section] = values
        atomic_write_json(self.path / METRICS, metrics)
        return metrics

    def record_timing(self, stage: str, seconds: float) -> None:
        """metrics.json["timings"][stage] = seconds (wall clock of that stage)."""
        metrics = self.read_metrics()
        metrics.setdefault("timings", {})[stage] = round(float(seconds), 3)
        atomic_write_json(self.path / METRICS, metrics)


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


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_clean(obj), indent=2, sort_keys=False) + "\n")


def atomic_save(path: str | os.PathLike, writer) -> None:
    """Atomic write for libraries that want a filename: `writer(tmp_path)` writes it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_json(path: str | os.PathLike) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc}); delete it or re-run the stage that writes it") from None
