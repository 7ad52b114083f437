"""The run context: the one object that opens a run folder, once.

    open_run(run_dir, device=None) -> RunContext
    read_latents(run_dir) -> dict        latents.npz, checked ("kind" a str, "class_names" a list)

A RunContext holds a run's resolved settings (config.json), and on first use its data, its
latent codes and its model on the device the one runtime rule chooses (`runtime.choose_device`).
Every stage (encode, analyze, generate, judge, walks), the explorer, the TensorBoard exporter and
`la.open_run` read a run through it; writing stays with the run folder (`rundir`), and encoding
a run that has no codes yet is the encode stage's (`stages.encode.open_encoded`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UserError
from .rundir import CONFIG, FIGURES_DIR, LATENTS, RunDir

LATENT_KEYS = ("train_mean", "test_mean", "train_labels", "test_labels", "class_names", "kind")


@dataclass
class RunContext:
    """One run folder, opened once: settings now, data, codes and model on first use."""
    run: RunDir
    config: dict = field(default_factory=dict)   # config.json: the run's resolved settings
    device: object = None                        # the torch.device its model runs on
    _model: object = None
    _latents: dict | None = None
    _dataset: object = None
    _judge: object = None              # the judge, once stages.judge has loaded it

    @property
    def path(self):
        return self.run.path

    @property
    def has_latents(self) -> bool:
        return self._latents is not None or (self.run / LATENTS).is_file()

    @property
    def latents(self) -> dict:
        """latents.npz as read_latents gives it (read once)."""
        if self._latents is None:
            self._latents = read_latents(self.run)
        return self._latents

    @property
    def model(self):
        """The trained model, in eval mode, on `device` (loaded once)."""
        if self._model is None:
            from .models import load_model

            self._model = load_model(self.path, device=str(self.device))
        return self._model

    @property
    def kind(self) -> str:
        return "vae" if getattr(self.model, "is_variational", False) else "ae"

    @property
    def class_names(self) -> list[str]:
        return list(self.latents["class_names"])

    @property
    def train_codes(self) -> np.ndarray:
        return np.asarray(self.latents["train_mean"], dtype=np.float64)

    @property
    def train_labels(self) -> np.ndarray | None:
        labels = self.latents.get("train_labels")
        return None if labels is None else np.asarray(labels, dtype=np.int64)

    @property
    def code_words(self) -> str:
        return "VAE means mu" if self.kind == "vae" else "autoencoder codes z"

    def data_settings(self, needed_by: str = "") -> dict:
        """config.json's data section; a run without one is one clear line."""
        data = self.config.get("data")
        if not isinstance(data, dict) or not data:
            why = f"; {needed_by}" if needed_by else ""
            raise UserError(f"{self.run / CONFIG} has no data section{why}; re-run `latentatlas train`")
        return data

    def dataset(self, needed_by: str = ""):
        """The run's dataset, rebuilt from config.json's data section (loaded once)."""
        if self._dataset is None:
            from .data import load_dataset

            self._dataset = load_dataset(**self.data_settings(needed_by))
        return self._dataset

    def figure(self, section: str, name: str, ext: str = "png"):
        """(absolute path, path relative to the run) of figures/<section>_<name>.<ext>."""
        rel = f"{FIGURES_DIR}/{section}_{name}.{ext}"
        return self.run.path / rel, rel


def open_run(run_dir, device=None, require=()) -> RunContext:
    """Open a run folder: it must exist (and hold the files in `require`); its config.json is
    read now, the rest on first use. device: as `--device` (None or "auto": cuda, mps, cpu)."""
    from .runtime import choose_device

    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise UserError(f"run directory {run.path} does not exist; train one with `latentatlas train --out {run.path}`")
    if require:
        run.require(*require)
    return RunContext(run, run.read_config(), choose_device(device))


def read_latents(run_dir) -> dict:
    """latents.npz as a dict of arrays ("kind" a str, "class_names" a list), checked."""
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    path = rd / LATENTS
    out = rd.read_latents()                       # missing or unreadable: one line naming `encode`
    missing = [k for k in LATENT_KEYS if k not in out]
    if missing:
        raise UserError(f"{path} lacks {', '.join(missing)}; delete it and run `latentatlas encode {rd.path}`")
    out["kind"] = str(out["kind"])
    out["class_names"] = [str(c) for c in out["class_names"]]
    return out


__all__ = ["RunContext", "open_run", "read_latents"]
