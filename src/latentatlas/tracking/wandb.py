"""Weights & Biases: scalars per epoch, the progress grids, the report, the final results, and the
test codes as a wandb.Table (index in the test split, class, label, image, z0..z{d-1} per row)
for W&B's 2-D projection of an embedding.

    history      loss/train, loss/test, kl/test, lr/epoch, time/seconds, ... (step = epoch)
    images       progress/samples, progress/recon (on the epochs that saved them)
    test_codes   the table, at the last epoch (a seeded subsample of MAX_POINTS rows)
    report       report.html as wandb.Html, when it exists
    summary      every finite number of metrics.json (probes.svm.accuracy, ...)

The mode: $WANDB_MODE (online, offline), else online when this machine is logged in to W&B
($WANDB_API_KEY or `wandb login`) and offline otherwise, so nothing ever asks for an account:
an offline run is a folder ./wandb/offline-run-* ($WANDB_DIR/wandb), uploaded later with
`wandb sync FOLDER`. The project: $WANDB_PROJECT, else "latentatlas"; the W&B run is named after
the run folder, and its id is kept in RUN/tracking.json.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..rundir import CONFIG, REPORT, RunDir
from .base import one_line, replay

INSTALL = "the wandb package is not installed; pip install 'latentatlas[wandb]'"
TABLE = "test_codes"
MAX_POINTS = 2000   # every row's image is a file W&B uploads: the Table stays light


def import_wandb():
    try:
        import wandb
    except ImportError:
        raise UserError(INSTALL) from None
    return wandb


def logged_in() -> bool:
    """An API key in the environment or in ~/.netrc (what `wandb login` writes); no network."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    import netrc
    from urllib.parse import urlsplit

    host = urlsplit(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def mode() -> str:
    return os.environ.get("WANDB_MODE") or ("online" if logged_in() else "offline")


@contextlib.contextmanager
def wandb_errors(what: str = "W&B logging failed"):
    try:
        yield
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{what}: {one_line(exc)}") from None


def _image(chw: np.ndarray) -> np.ndarray:
    """(C, H, W) uint8 -> (H, W) grey or (H, W, 3) colour, as wandb.Image takes it."""
    hwc = np.transpose(chw, (1, 2, 0))
    return hwc[:, :, 0] if hwc.shape[2] == 1 else hwc


def codes_table(wandb, run_dir, max_points: int | None = None):
    from .tensorboard import test_codes

    got = test_codes(run_dir, max_points=max_points or MAX_POINTS)
    d = got["codes"].shape[1]
    table = wandb.Table(columns=["index", "class", "label", "image"] + [f"z{i}" for i in range(d)])
    for i, code, label, image in zip(got["index"], got["codes"], got["labels"], got["images"]):
        table.add_data(int(i), got["class_names"][int(label)], int(label), wandb.Image(_image(image)),
                       *[float(v) for v in code])
    return table


class WandbTracker:
    name = "wandb"

    def __init__(self, run_dir, resume: bool = False):
        self.wandb = import_wandb()
        self.rd = RunDir(run_dir)
        self.mode = mode()
        record = self.rd.read_tracking().get("wandb") or {}
        again = {"id": record["id"], "resume": "allow"} if resume and record.get("id") else {}
        with wandb_errors("W&B could not start a run"):
            self.run = self.wandb.init(project=os.environ.get("WANDB_PROJECT") or "latentatlas",
                                       name=self.rd.path.resolve().name, config=self.rd.read_config(),
                                       mode=self.mode, reinit="create_new", **again,
                                       settings=self.wandb.Settings(silent=True, console="off"))
        self.last_step = 0
        self.folder = Path(self.run.dir).parent   # wandb/offline-run-*/ (run.dir is its files/)
        record = self.rd.read_tracking()
        record["wandb"] = {"id": self.run.id, "project": self.run.project, "mode": self.mode,
                           "folder": str(self.folder.resolve())}
        self.rd.write_tracking(record)

    def _log(self, values: dict, step: int) -> None:
        self.last_step = max(self.last_step, step)
        self.run.log(values, step=self.last_step)   # W&B steps only go forward

    def on_step(self, step, losses, lr) -> None:
        pass  # W&B's step is the epoch (one x axis for every panel)

    def on_epoch(self, epoch: int, row: dict) -> None:
        from .mlflow import _number
        from .tensorboard import epoch_tag

        self._log({epoch_tag(k): float(v) for k, v in row.items() if k != "epoch" and _number(v)}, epoch)

    def on_images(self, epoch: int, tag: str, image) -> None:
        self._log({tag: self.wandb.Image(str(image) if isinstance(image, (str, Path)) else image)}, epoch)

    def on_finish(self, run_dir, metrics: dict) -> None:
        if self.rd.read_history():              # nothing to encode before a first epoch
            self._log({TABLE: codes_table(self.wandb, self.rd.path)}, self.last_step)
        self.log_results()

    def log_results(self) -> None:
        """metrics.json into the summary; report.html as a page."""
        from .mlflow import _number, flatten

        self.run.summary.update({k: v for k, v in flatten(self.rd.read_metrics()).items() if _number(v)})
        if (self.rd / REPORT).is_file():
            self._log({"report": self.wandb.Html((self.rd / REPORT).read_text(encoding="utf-8"), inject=False)},
                      self.last_step)

    def where(self) -> str:
        if self.mode == "offline":
            return (f"wandb: offline run {self.run.id} in {self.folder}; upload it with "
                    f"`wandb sync {self.folder}`")
        return f"wandb: run {self.run.id}; open {self.run.url}"

    def close(self) -> None:
        self.run.finish()


def open_tracker(run_dir, train_cfg=None, resume: bool = False) -> WandbTracker:
    return WandbTracker(run_dir, resume=resume)


def after_report(run_dir, train_cfg=None) -> str:
    """After `latentatlas run`'s report: the results and the report into the W&B run training
    opened (offline: a continuation folder with the same run id), or the whole run when training
    was reused."""
    rd = RunDir(run_dir)
    if not (rd.read_tracking().get("wandb") or {}).get("id"):
        return export(rd.path)
    tracker = WandbTracker(rd.path, resume=True)
    try:
        with wandb_errors():
            tracker.log_results()
    finally:
        tracker.close()
    return tracker.where()


def export(run_dir, ensure_codes=None) -> str:
    """A finished run as a new W&B run: history, grids, the test-code table, results, report."""
    rd = RunDir(run_dir)
    rd.require(CONFIG)
    if not rd.read_history():
        raise UserError(f"{rd.path} has no history.jsonl (no epoch was trained); nothing to export")
    tracker = WandbTracker(rd.path)
    try:
        with wandb_errors():
            replay(tracker, rd)
            if ensure_codes is not None:
                ensure_codes()
            tracker.on_finish(rd.path, rd.read_metrics())
    finally:
        tracker.close()
    return tracker.where()
