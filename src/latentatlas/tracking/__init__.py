"""Experiment trackers around training: TensorBoard (--tensorboard) and MLflow (--mlflow).

    base.py         the Tracker protocol, and Trackers: calls every tracker that is on and switches
                    off (one warning line) any that fails, so a tracker never stops training
    tensorboard.py  torch.utils.tensorboard: scalars, progress grids, the Projector embedding;
                    export_tensorboard(run_dir, log_dir) for a finished run
    mlflow.py       MlflowClient: parameters, per-epoch metrics, metrics.json, report.html

This package imports neither torch nor the trackers' packages until a tracker is made.
"""

from __future__ import annotations

from .base import Tracker, Trackers, warn_off

__all__ = ["Tracker", "Trackers", "trackers_for", "after_report", "warn_off"]


def trackers_for(train_cfg, run_dir, resume: bool = False, main: bool = True) -> Trackers:
    """The trackers train_cfg asks for (an empty, falsy Trackers when none, or off the main rank).

    resume: keep what the trackers logged before (TensorBoard events, the MLflow run);
    otherwise a fresh training clears its earlier TensorBoard logs first.
    """
    if not main:
        return Trackers([], run_dir)
    made = []
    if getattr(train_cfg, "tensorboard", False):
        try:
            from .tensorboard import TensorBoardTracker, log_dir_for

            made.append(TensorBoardTracker(log_dir_for(run_dir, getattr(train_cfg, "tensorboard_dir", None)),
                                           fresh=not resume))
        except Exception as exc:
            warn_off("tensorboard", exc)
    if getattr(train_cfg, "mlflow", False):
        try:
            from .mlflow import MlflowTracker

            made.append(MlflowTracker(run_dir, resume=resume))
        except Exception as exc:
            warn_off("mlflow", exc)
    return Trackers(made, run_dir)


def after_report(run_dir, train_cfg) -> None:
    """`latentatlas run`, once the report is written: MLflow gets the final figures of metrics.json
    and report.html; TensorBoard, where training was reused and so logged nothing, gets the
    finished run's export. Never raises."""
    if getattr(train_cfg, "tensorboard", False):
        try:
            from .tensorboard import export_tensorboard, log_dir_for

            log_dir = log_dir_for(run_dir, getattr(train_cfg, "tensorboard_dir", None))
            if not (log_dir.is_dir() and any(log_dir.glob("events.out.tfevents.*"))):
                export_tensorboard(run_dir, log_dir)
        except Exception as exc:
            warn_off("tensorboard", exc, then="the run itself is complete")
    if getattr(train_cfg, "mlflow", False):
        try:
            from .mlflow import log_after_report

            log_after_report(run_dir)
        except Exception as exc:
            warn_off("mlflow", exc, then="the run itself is complete")
