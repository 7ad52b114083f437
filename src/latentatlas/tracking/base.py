"""What training tells its trackers (TensorBoard, MLflow, W&B), and the rule that they never stop it.

    trackers = trackers_for(train_cfg, run_dir, resume=False)   # falsy when no tracker is on
    trackers.on_step(step, {"loss": 97.1, "recon": 80.2, "kl": 16.9}, lr)   # per image
    trackers.on_epoch(epoch, history_row)       # also hands on this epoch's progress grids
    trackers.on_finish(run_dir, metrics)        # metrics.json "train"; closes every tracker

A tracker that raises anything (a folder that cannot be written, a tracking server that
does not answer, a missing package) is switched off after ONE warning line on stderr;
training, its files and the other trackers carry on. A BaseException is not caught: a sweep's
trial stopped by its scheduler (sweeps/early.py's TrialStopped) ends training that way.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

from ..rundir import PROGRESS_DIR


class Tracker(Protocol):
    """One logging backend. Every method may raise: `Trackers` catches it."""
    name: str

    def on_step(self, step: int, losses: dict[str, float], lr: float) -> None: ...

    def on_epoch(self, epoch: int, row: dict) -> None: ...

    def on_images(self, epoch: int, tag: str, image) -> None: ...   # a PNG path or an (H, W[, C]) array

    def on_finish(self, run_dir, metrics: dict) -> None: ...

    def close(self) -> None: ...


class Backend(Protocol):
    """One tracker's module (tracking/tensorboard.py, mlflow.py, wandb.py): the same three calls,
    so training, `latentatlas run`, `latentatlas export` and a sweep's trials use them unchanged."""

    def open_tracker(self, run_dir, train_cfg=None, resume: bool = False) -> Tracker: ...

    def after_report(self, run_dir, train_cfg=None) -> str | None: ...   # `run`, once report.html is written

    def export(self, run_dir, ensure_codes=None) -> str: ...   # a finished run; returns "where it went" line


def one_line(exc: BaseException) -> str:
    """An exception as one short line (a server's error can span a page)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 240 else text[:237] + "..."


def warn_off(name: str, exc: BaseException, then: str = "training goes on") -> None:
    print(f"latentatlas: warning: {name} logging is off: {one_line(exc)}; {then}", file=sys.stderr, flush=True)


def progress_grids(run_dir, epoch: int):
    """(tag, path) of the grids ProgressImages wrote for this epoch (only on epochs it saves)."""
    for kind in ("samples", "recon"):
        path = Path(run_dir) / PROGRESS_DIR / f"epoch_{epoch:03d}_{kind}.png"
        if path.is_file():
            yield f"progress/{kind}", path


def replay(tracker: Tracker, rd) -> int:
    """A finished run's history and progress grids, told to a tracker as training told them
    (how every exporter starts). Returns the number of epochs."""
    history = rd.read_history()
    for row in history:
        epoch = int(row["epoch"])
        tracker.on_epoch(epoch, row)
        for tag, path in progress_grids(rd.path, epoch):
            tracker.on_images(epoch, tag, path)
    return len(history)


class Trackers:
    """The trackers that are on; a call that fails switches that tracker off (one warning)."""

    def __init__(self, trackers=(), run_dir=None):
        self.active: list[Tracker] = list(trackers)
        self.run_dir = Path(run_dir) if run_dir is not None else None

    def __bool__(self) -> bool:
        return bool(self.active)

    def _each(self, method: str, *args) -> None:
        for tracker in list(self.active):
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # never into training: see the module docstring
                self._drop(tracker, exc)

    def _drop(self, tracker: Tracker, exc: BaseException) -> None:
        self.active.remove(tracker)
        warn_off(tracker.name, exc)
        try:
            tracker.close()
        except Exception:
            pass

    def on_step(self, step: int, losses: dict, lr: float) -> None:
        self._each("on_step", step, losses, lr)

    def on_epoch(self, epoch: int, row: dict) -> None:
        self._each("on_epoch", epoch, row)
        if self.run_dir is None:
            return
        for tag, path in progress_grids(self.run_dir, epoch):
            self.on_images(epoch, tag, path)

    def on_images(self, epoch: int, tag: str, image) -> None:
        self._each("on_images", epoch, tag, image)

    def on_finish(self, run_dir, metrics: dict) -> None:
        self._each("on_finish", run_dir, metrics or {})
        self.close()

    def close(self) -> None:
        for tracker in self.active:
            try:
                tracker.close()
            except Exception as exc:
                warn_off(tracker.name, exc)
        self.active = []
