"""What the generation stages read from a trained run, loaded once: model, latents, config.

    open_run(run_dir) -> GenContext
    decode_codes(model, codes (N, d)) -> images (N, C, H, W)

The sampling stage (`latent.generate`), the judge (`judge.section`) and the walks
(`latent.walks`) each take a GenContext, so a command that runs several of them
loads the model and the codes once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import UserError
from .rundir import CONFIG, FIGURES_DIR, RunDir


@dataclass
class GenContext:
    """Everything the generation stages read from a run directory, loaded once."""
    run: RunDir
    model: object                      # a latentatlas model in eval mode
    latents: dict                      # as latent.encode.load_latents returns it
    config: dict = field(default_factory=dict)   # config.json
    _dataset: object = None
    _judge: object = None              # the judge, once judge.section has loaded it

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

    def dataset(self):
        """The run's dataset, rebuilt from config.json's data section (for the judge and test images)."""
        if self._dataset is None:
            from .data import load_dataset

            data = self.config.get("data")
            if not isinstance(data, dict):
                raise UserError(f"{self.run / CONFIG} has no data section; re-run `latentatlas train`")
            self._dataset = load_dataset(**data)
        return self._dataset

    def figure(self, section: str, name: str, ext: str = "png"):
        """(absolute path, path relative to the run) of figures/<section>_<name>.<ext>."""
        rel = f"{FIGURES_DIR}/{section}_{name}.{ext}"
        return self.run.path / rel, rel


def open_run(run_dir) -> GenContext:
    """Load model, latents (encoding first if needed) and config of a trained run."""
    from .models import load_model
    from .runtime import choose_device
    from .stages.encode import load_latents

    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise UserError(f"run directory {run.path} does not exist; train one with `latentatlas train --out {run.path}`")
    model = load_model(run.path, device=str(choose_device()))   # generation decodes on the GPU when there is one
    latents = load_latents(run.path)
    return GenContext(run, model, latents, run.read_config())


def decode_codes(model, codes: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """(N, d) codes -> (N, C, H, W) float32 images in [0, 1], in batches, no grad, on the
    model's device."""
    import torch

    codes = np.asarray(codes, dtype=np.float32)
    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):       # a stand-in decoder without weights
        device = torch.device("cpu")
    out = []
    with torch.no_grad():
        for i in range(0, len(codes), batch_size):
            x = model.decode(torch.from_numpy(codes[i:i + batch_size]).to(device))   # (B, C, H, W)
            out.append(x.float().cpu().numpy())
    if not out:
        h, w = getattr(model, "image_size", (28, 28))
        return np.zeros((0, getattr(model, "in_channels", 1), h, w), np.float32)
    return np.concatenate(out)


__all__ = ["GenContext", "open_run", "decode_codes"]
