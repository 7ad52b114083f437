"""Experiment trackers around training: TensorBoard (--tensorboard), MLflow (--mlflow) and
Weights & Biases (--wandb).

    base.py          the Tracker protocol, the Backend protocol every tracker module follows
                     (open_tracker, after_report, export), and Trackers: calls every tracker that
                     is on and switches off (one warning line) any that fails, so a tracker
                     never stops training
    tensorboard.py   torch.utils.tensorboard: scalars, progress grids, the Projector embedding
    mlflow.py        MlflowClient: parameters, per-epoch metrics, results, artefacts, the decoder
                     (mlflow_store.py: where it writes and how to open it; mlflow_model.py)
    wandb.py         wandb (offline or online): scalars per epoch, grids, the report, the test
                     codes as a wandb.Table

Training, `latentatlas run`, `latentatlas export` and a sweep's trials all go through
BACKENDS / backend(name), so each tracker is written once.
This package imports neither torch nor the trackers' packages until a tracker is made.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib

from .base import Backend, Tracker, Trackers, warn_off

__all__ = ["BACKENDS", "Backend", "Tracker", "Trackers", "backend", "trackers_for", "after_report",
           "export_run", "warn_off", "added_trackers"]

# name (the TrainConfig switch and the CLI flag) -> its module in this package
BACKENDS = ("tensorboard", "mlflow", "wandb")


def backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown tracker {name!r}; one of {', '.join(BACKENDS)}")
    return importlib.import_module(f".{name}", __name__)


# trackers every training in this thread gets besides the settings' ones (added_trackers)
_ADDED: contextvars.ContextVar[tuple] = contextvars.ContextVar("latentatlas_added_trackers", default=())


@contextlib.contextmanager
def added_trackers(*trackers: Tracker):
    """Every training started in the block (this thread) tells these trackers too: a sweep's
    trial reports each epoch's test loss to Ray Tune's scheduler this way (sweeps/early.py)."""
    token = _ADDED.set(_ADDED.get() + trackers)
    try:
        yield
    finally:
        _ADDED.reset(token)


def wanted(train_cfg) -> list[str]:
    return [name for name in BACKENDS if getattr(train_cfg, name, False)]


def trackers_for(train_cfg, run_dir, resume: bool = False, main: bool = True) -> Trackers:
    """The trackers train_cfg asks for (an empty, falsy Trackers when none, or off the main rank).

    resume: keep what the trackers logged before (TensorBoard events, the MLflow run);
    otherwise a fresh training clears its earlier TensorBoard logs first.
    """
    if not main:
        return Trackers([], run_dir)
    made = list(_ADDED.get())
    for name in wanted(train_cfg):
        try:
            made.append(backend(name).open_tracker(run_dir, train_cfg, resume=resume))
        except Exception as exc:
            warn_off(name, exc)
    return Trackers(made, run_dir)


def after_report(run_dir, train_cfg) -> None:
    """`latentatlas run`, once the report is written: each tracker that is on gets what training
    could not give it (metrics.json, the figures, report.html; the whole run where training was
    reused and so logged nothing). Never raises."""
    for name in wanted(train_cfg):
        try:
            backend(name).after_report(run_dir, train_cfg)
        except Exception as exc:
            warn_off(name, exc, then="the run itself is complete")


def export_run(name: str, run_dir, ensure_codes=None, **options) -> str:
    """A finished run through one tracker (`latentatlas export`, a sweep's trials); returns the
    line saying where it went and how to open it. Failures are one-line UserErrors."""
    return backend(name).export(run_dir, ensure_codes=ensure_codes, **options)
