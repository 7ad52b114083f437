"""The one table of a run folder's files: each name, its format and what it holds.

Only the `latentatlas.rundir` package and the stages asking it spell these names; every
other module imports the constants. FORMAT_VERSION is the run-folder format this release
writes (see migrations.py for the versions and how older folders are read).
"""

from __future__ import annotations

FORMAT_VERSION = 2
FORMAT_KEY = "format_version"  # the key of run.json recording the folder's format

# name -> (format, what it holds): filled by _file below, in the order of the folder's listing
RUN_FILES: dict[str, tuple[str, str]] = {}


def _file(name: str, fmt: str, holds: str) -> str:
    RUN_FILES[name] = (fmt, holds)
    return name


CONFIG = _file("config.json", "JSON", "resolved configuration (data, model, train, analysis, generate)")
WEIGHTS = _file("model.safetensors", "safetensors", "weights (no pickle)")
MODEL_JSON = _file("model.json", "JSON", "what is needed to rebuild the model")
HISTORY = _file("history.jsonl", "JSON lines", "one line per epoch")
CHECKPOINT_DIR = _file("checkpoint", "folder", "training state for --resume (optimizer, RNG, epoch)")
CHECKPOINT = _file("last.safetensors", "safetensors", "in checkpoint/: weights, optimizer and loop state")
PROGRESS_DIR = _file("progress", "folder of PNG", "image grids saved as training progresses")
LATENTS = _file("latents.npz", "npz", "per split: means (and log-variances for a VAE), labels")
MAPS = _file("maps.npz", "npz", "2-D views (xy + the point indices each covers) and explorer colourings")
METRICS = _file("metrics.json", "JSON", "every figure the stages measured, one section per stage")
RUN_STATE = _file("run.json", "JSON", "the folder's format_version; what `latentatlas run` finished, "
                                      "with which fingerprint")
FIGURES_DIR = _file("figures", "folder of PNG, GIF, HTML", "figures, and interactive HTML pieces")
REPORT = _file("report.html", "HTML", "one file, readable offline")
TENSORBOARD_DIR = _file("tensorboard", "folder", "--tensorboard logs (events, projector_config.pbtxt, "
                                                 "the embedding)")
TRACKING = _file("tracking.json", "JSON", "--mlflow / --wandb: which MLflow and W&B runs this run folder logs to")
LOCK = _file(".lock", "JSON", "flock'ed by the writing process; holds its PID and command")

# Files whose presence marks a folder as a latentatlas run (used before overwriting).
RUN_MARKERS = (CONFIG, MODEL_JSON, WEIGHTS, METRICS, HISTORY)
