"""MLflow: settings as parameters, results as metrics, the run's files as artefacts, the decoder
as an MLflow model.

    parameters   config.json flattened (train.lr, model.latent_dim, ...), and the settings that
                 metrics.json repeats beside its results (clustering.gmm.n_init, ...)
    metrics      history.jsonl per epoch (step = epoch: train_loss, test_loss, lr, ...); the
                 final results of metrics.json (probes.svm.accuracy, ..., step 0)
    artefacts    config.json, metrics.json, history.jsonl, report.html, figures/, progress/,
                 model/ (model.json, model.safetensors)
    model        "decoder": mlflow.pytorch.load_model("runs:/RUN_ID/decoder") decodes codes

The store (mlflow_store.py): $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working folder.
The experiment: $MLFLOW_EXPERIMENT_NAME, else "latentatlas"; the MLflow run is named after the
run folder. Which MLflow run a folder logs to is kept in RUN/tracking.json, so `latentatlas run`
adds the analysis figures and the report to the run its training opened (`after_report`).
"""

from __future__ import annotations

import json
import math
import os
import re
import time

from ..errors import UserError
from ..rundir import CONFIG, FIGURES_DIR, HISTORY, METRICS, MODEL_JSON, PROGRESS_DIR, REPORT, WEIGHTS, RunDir
from .base import replay
from .mlflow_store import check_answers, how_to_open, import_mlflow, quiet, store_errors, tracking_uri

BATCH = 100   # MLflow's log_batch takes at most 100 params / 1000 metrics per call
FILES = (CONFIG, METRICS, HISTORY, REPORT)
FOLDERS = (FIGURES_DIR, PROGRESS_DIR)
# metrics.json keys that repeat a setting or describe the data beside the results: parameters.
SETTING_KEYS = {"n_init", "n_neighbors", "k_std", "requested_dims", "dims", "n_per_class", "n_components",
                "steps", "frames", "n", "n_points", "fit_points", "eval_points", "n_train", "n_test", "n_classes",
                "n_clusters", "channels", "images", "threads", "world_size", "epochs_planned", "n_parameters"}


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


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 500 else text[:497] + "..."


def params_of(config: dict) -> dict[str, str]:
    return {metric_name(k): _text(v) for k, v in flatten(config).items()}


def split_results(metrics: dict, config: dict) -> tuple[dict[str, str], dict[str, float]]:
    """metrics.json -> (parameters, metrics): a number whose last key names a setting
    (config.json's keys, SETTING_KEYS) is a parameter; every other finite number is a result."""
    settings = SETTING_KEYS | {k.rsplit(".", 1)[-1] for k in flatten(config)}
    params, figures = {}, {}
    for key, value in flatten(metrics).items():
        if not _number(value):
            continue   # figure lists, confusion matrices, names
        if key.rsplit(".", 1)[-1] in settings and not key.startswith("timings."):
            params[metric_name(key)] = _text(value)
        else:
            figures[metric_name(key)] = float(value)
    return params, figures


class MlflowTracker:
    name = "mlflow"

    def __init__(self, run_dir, resume: bool = False):
        self.mlflow = import_mlflow()
        self.uri = tracking_uri()
        check_answers(self.uri)
        self.rd = RunDir(run_dir)
        with quiet(), store_errors(self.uri):
            self.client = self.mlflow.tracking.MlflowClient(self.uri)
            self.run_id = recorded_run(self.rd, self.uri) if resume else None
            if self.run_id is None:
                self.run_id = open_run(self.client, self.rd, self.uri)
                self.log_params(params_of(self.rd.read_config()))
            self.experiment_id = self.client.get_run(self.run_id).info.experiment_id

    def log_params(self, params: dict[str, str]) -> None:
        """New parameters only: MLflow refuses to change one (a re-logged report repeats them)."""
        from mlflow.entities import Param

        have = self.client.get_run(self.run_id).data.params
        new = [Param(k, v) for k, v in params.items() if k not in have]
        for i in range(0, len(new), BATCH):
            self.client.log_batch(self.run_id, params=new[i:i + BATCH])

    def log_metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, v, now, step) for k, v in values.items()]
        for i in range(0, len(batch), 1000):
            self.client.log_batch(self.run_id, metrics=batch[i:i + 1000])

    def on_step(self, step, losses, lr) -> None:
        pass  # one request per step to a server is too many: MLflow gets the epochs

    def on_epoch(self, epoch: int, row: dict) -> None:
        with quiet():
            self.log_metrics({metric_name(k): float(v) for k, v in row.items() if k != "epoch" and _number(v)},
                             epoch)

    def on_images(self, epoch, tag, image) -> None:
        pass  # progress/ goes as artefacts at the end

    def on_finish(self, run_dir, metrics: dict) -> None:
        self.log_final(model=True)

    def log_final(self, model: bool = False, status: str = "FINISHED") -> int:
        """metrics.json (parameters and results), the run's files, the decoder; ends the run."""
        with quiet():
            params, figures = split_results(self.rd.read_metrics(), self.rd.read_config())
            self.log_params(params)
            self.log_metrics(figures, 0)
            for name in FILES:
                if (self.rd / name).is_file():
                    self.client.log_artifact(self.run_id, str(self.rd / name))
            for name in FOLDERS:
                if (self.rd / name).is_dir():
                    self.client.log_artifacts(self.run_id, str(self.rd / name), name)
            for name in (MODEL_JSON, WEIGHTS):
                if (self.rd / name).is_file():
                    self.client.log_artifact(self.run_id, str(self.rd / name), "model")
            if model and (self.rd / WEIGHTS).is_file():
                from .mlflow_model import log_decoder

                log_decoder(self.mlflow, self.uri, self.run_id, self.rd.path)
            self.client.set_terminated(self.run_id, status)
        return len(figures)

    def where(self) -> str:
        return (f"mlflow: run {self.run_id} in {self.uri}; {how_to_open(self.uri, self.experiment_id, self.run_id)}; "
                f"the decoder: mlflow.pytorch.load_model(\"runs:/{self.run_id}/decoder\")")

    def close(self) -> None:
        pass


def open_run(client, rd: RunDir, uri: str) -> str:
    """A new MLflow run for this run folder; recorded in RUN/tracking.json."""
    name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "latentatlas")
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
    run = client.create_run(experiment_id, run_name=rd.path.resolve().name,
                            tags={"latentatlas.run_dir": str(rd.path.resolve())})
    record = rd.read_tracking()
    record["mlflow"] = {"tracking_uri": uri, "run_id": run.info.run_id, "experiment": name}
    rd.write_tracking(record)
    return run.info.run_id


def recorded_run(rd: RunDir, uri: str) -> str | None:
    """The MLflow run this folder logged to in the same store, if any."""
    entry = rd.read_tracking().get("mlflow") or {}
    return entry.get("run_id") if entry.get("tracking_uri") in (uri, None) else None


def open_tracker(run_dir, train_cfg=None, resume: bool = False) -> MlflowTracker:
    return MlflowTracker(run_dir, resume=resume)


def after_report(run_dir, train_cfg=None) -> str:
    """After `latentatlas run`'s report: metrics.json, the figures and report.html into the MLflow
    run the training opened (or a new one, with the history, when training was reused)."""
    import_mlflow()
    uri = tracking_uri()
    check_answers(uri)
    rd = RunDir(run_dir)
    if recorded_run(rd, uri) is None:
        return export(rd.path)
    with store_errors(uri):
        tracker = MlflowTracker(rd.path, resume=True)
        tracker.log_final()
    return tracker.where()


def export(run_dir, ensure_codes=None) -> str:
    """A finished run as a new MLflow run (everything above); any failure is a UserError of one
    line. Returns the line that says where it went and how to open it."""
    rd = RunDir(run_dir)
    rd.require(CONFIG)
    if not rd.read_history():
        raise UserError(f"{rd.path} has no history.jsonl (no epoch was trained); nothing to export")
    tracker = MlflowTracker(rd.path)
    with store_errors(tracker.uri):
        replay(tracker, rd)
        tracker.log_final(model=True)
    return tracker.where()
