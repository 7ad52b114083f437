"""MLflow, as Pythae offers it: the settings as parameters, per-epoch losses, the final
figures of metrics.json, and report.html as an artefact.

The store: $MLFLOW_TRACKING_URI, else the folder store ./mlruns (view it with
`mlflow ui --backend-store-uri ./mlruns`); the experiment: $MLFLOW_EXPERIMENT_NAME, else
"latentatlas"; the MLflow run is named after the run folder. Which MLflow run a run folder
logs to is kept in RUN/tracking.json, so `latentatlas run` adds the analysis figures and the
report to the run its training opened (`log_after_report`).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

from ..errors import UserError
from ..rundir import REPORT, RunDir

INSTALL = "the mlflow package is not installed; pip install 'latentatlas[mlflow]'"
BATCH = 100   # MLflow's log_batch takes at most 100 params / 1000 metrics per call


def client_class():
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UserError(INSTALL) from None
    return MlflowClient


def tracking_uri() -> str:
    """$MLFLOW_TRACKING_URI, else ./mlruns as a file: URI."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or Path("mlruns").resolve().as_uri()
    if uri.startswith("file:") or "://" not in uri:
        # MLflow 3 keeps its folder store behind this switch; asking for it is asking for the store.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri


def check_answers(uri: str, timeout: float = 3.0) -> None:
    """A tracking server must answer within seconds: MLflow's own retries would take minutes."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    import socket

    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise UserError(f"the tracking server {uri} does not answer ({exc.strerror or exc})") from None
    # And if it stops answering later, a few quick retries, not MLflow's default minutes of them.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


def flatten(table, prefix: str = "") -> dict:
    """{"train": {"lr": 0.002}} -> {"train.lr": 0.002}; lists stay leaves."""
    out = {}
    for key, value in (table or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def metric_name(name: str) -> str:
    return re.sub(r"[^\w\-. /:]", "_", name)[:250]


def final_figures(metrics: dict) -> dict[str, float]:
    """Every finite number in metrics.json (figure lists and confusion matrices left out)."""
    return {metric_name(k): float(v) for k, v in flatten(metrics).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def params_of(config: dict) -> dict[str, str]:
    out = {}
    for key, value in flatten(config).items():
        text = value if isinstance(value, str) else json.dumps(value)
        out[metric_name(key)] = text if len(text) <= 500 else text[:497] + "..."
    return out


class MlflowTracker:
    name = "mlflow"

    def __init__(self, run_dir, resume: bool = False):
        client_cls = client_class()
        from mlflow.entities import Param

        self.uri = tracking_uri()
        check_answers(self.uri)
        self.client = client_cls(self.uri)
        self.rd = RunDir(run_dir)
        self.run_id = recorded_run(self.rd, self.uri) if resume else None
        if self.run_id is None:
            self.run_id = open_run(self.client, self.rd, self.uri)
            params = [Param(k, v) for k, v in params_of(self.rd.read_config()).items()]
            for i in range(0, len(params), BATCH):
                self.client.log_batch(self.run_id, params=params[i:i + BATCH])

    def on_step(self, step, losses, lr) -> None:
        pass  # one request per step to a server is too many: MLflow gets the epochs

    def on_epoch(self, epoch: int, row: dict) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        values = [Metric(metric_name(k), float(v), now, epoch) for k, v in row.items()
                  if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
        self.client.log_batch(self.run_id, metrics=values)

    def on_images(self, epoch, tag, image) -> None:
        pass  # the GIFs and the report carry the images

    def on_finish(self, run_dir, metrics: dict) -> None:
        log_final(self.client, self.run_id, RunDir(run_dir))

    def close(self) -> None:
        pass


def open_run(client, rd: RunDir, uri: str) -> str:
    """A new MLflow run for this run folder; recorded in RUN/tracking.json."""
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "latentatlas")
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    run = client.create_run(experiment_id, run_name=rd.path.resolve().name,
                            tags={"latentatlas.run_dir": str(rd.path.resolve())})
    record = _read_record(rd)
    record["mlflow"] = {"tracking_uri": uri, "run_id": run.info.run_id, "experiment": name}
    rd.write_tracking(record)
    return run.info.run_id


def _read_record(rd: RunDir) -> dict:
    return rd.read_tracking()


def recorded_run(rd: RunDir, uri: str) -> str | None:
    """The MLflow run this folder logged to in the same store, if any."""
    entry = _read_record(rd).get("mlflow") or {}
    return entry.get("run_id") if entry.get("tracking_uri") in (uri, None) else None


def log_final(client, run_id: str, rd: RunDir, status: str = "FINISHED") -> int:
    """metrics.json's figures (logged as they are now) and report.html when it exists."""
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    values = [Metric(k, v, now, 0) for k, v in final_figures(rd.read_metrics()).items()]
    for i in range(0, len(values), 1000):
        client.log_batch(run_id, metrics=values[i:i + 1000])
    if (rd / REPORT).is_file():
        client.log_artifact(run_id, str(rd / REPORT))
    client.set_terminated(run_id, status)
    return len(values)


def log_after_report(run_dir) -> str:
    """After `latentatlas run`'s report: the final figures and report.html into the MLflow run the
    training opened (or a new one, with the history, when training was reused). Returns the run id."""
    client_cls = client_class()
    uri = tracking_uri()
    check_answers(uri)
    rd = RunDir(run_dir)
    run_id = recorded_run(rd, uri)
    if run_id is None:
        return export_mlflow(rd.path)[0]
    log_final(client_cls(uri), run_id, rd)
    return run_id


def export_mlflow(run_dir) -> tuple[str, str]:
    """A finished run as a new MLflow run (settings, history, final figures, report.html);
    any failure is a UserError of one line. Returns (run id, tracking URI)."""
    from .base import one_line

    rd = RunDir(run_dir)
    history = rd.read_history()
    if not history:
        raise UserError(f"{rd.path} has no history.jsonl (no epoch was trained); nothing to export")
    try:
        tracker = MlflowTracker(rd.path)
        for row in history:
            tracker.on_epoch(int(row["epoch"]), row)
        log_final(tracker.client, tracker.run_id, rd)
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"MLflow export failed: {one_line(exc)}") from None
    return tracker.run_id, tracker.uri
