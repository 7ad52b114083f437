"""Images as training progresses (as study 001 shows them), the GIF and the loss curves.

The drawing itself is `latentatlas.figures` (grids, GIFs, loss curves); this module
decides what to draw from the model and the progress/ folder, and lists each figure
with its report section.

Every k epochs: progress/epoch_NNN_samples.png decodes one fixed set of latent
points (the same standard-normal draws every time, so frames are comparable), and
progress/epoch_NNN_recon.png shows fixed test images above their reconstructions.
Grids of grey images are grey PNGs, of colour images RGB; the GIF keeps their mode.
For an AE, whose codes have no prior, the fixed draws are mapped through the
current mean and standard deviation of the test codes (z = mean + std * eps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..rundir import FIGURES_DIR, PROGRESS_DIR


class ProgressImages:
    def __init__(self, run_dir, latent_dim: int, x_test, n_points: int = 64, n_recon: int = 32, seed: int = 0):
        import torch

        self.dir = Path(run_dir) / PROGRESS_DIR
        g = torch.Generator().manual_seed(10_000 + seed)
        self.eps = torch.randn(n_points, latent_dim, generator=g)                  # (P, d)
        n_recon = min(n_recon, len(x_test))
        idx = torch.randperm(len(x_test), generator=g)[:n_recon]
        self.x = x_test[idx.to(x_test.device)]                                     # (R, C, H, W) uint8
        self.cols = 8

    def save(self, model, epoch: int, code_stats=None) -> None:
        """Write this epoch's two grids. code_stats: (mean, std) of AE test codes, (d,) each."""
        import torch

        from ..figures.grids import save_grid_png

        dev = next(model.parameters()).device
        was_training = model.training
        model.eval()
        with torch.no_grad():
            z = self.eps.to(dev)
            if not model.is_variational and code_stats is not None:
                z = code_stats[0].to(dev) + code_stats[1].to(dev) * z
            samples = model.decode(z).float().cpu().numpy()                        # (P, C, H, W)
            x = self.x.float().div(255)
            recon = model.decode(model.embed(x)).float().cpu().numpy()
        model.train(was_training)
        x = x.cpu().numpy()
        # Rows alternate: 8 originals, then their 8 reconstructions.
        pairs = []
        for i in range(0, len(x), self.cols):
            pairs += [x[i:i + self.cols], recon[i:i + self.cols]]
        save_grid_png(self.dir / f"epoch_{epoch:03d}_samples.png", samples, nrow=self.cols)
        save_grid_png(self.dir / f"epoch_{epoch:03d}_recon.png", np.concatenate(pairs), nrow=self.cols)


def progress_gifs(run_dir) -> list[dict]:
    """Animate the saved progress grids into figures/train_progress_{samples,recon}.gif."""
    from ..figures.grids import save_gif

    run_dir = Path(run_dir)
    figs = []
    for kind, section, title in (
            ("samples", "training", "Decoded from fixed latent points, as training progresses"),
            ("recon", "reconstructions", "Test images (odd rows) and reconstructions, as training progresses")):
        files = sorted((run_dir / PROGRESS_DIR).glob(f"epoch_*_{kind}.png"))
        if not files:
            continue
        frames = [_read_grid(f) for f in files]
        rel = f"{FIGURES_DIR}/train_progress_{kind}.gif"
        save_gif(run_dir / rel, frames, duration_ms=400, scale=1)
        figs.append({"path": rel, "title": title, "kind": "gif", "section": section,
                     "caption": f"{len(frames)} frames, one per saved epoch ({files[0].stem[6:9].lstrip('0') or '0'}"
                                f" to {files[-1].stem[6:9].lstrip('0')})."})
    return figs


def _read_grid(path: Path) -> np.ndarray:
    """A saved progress grid as drawn: (H, W) for a grey PNG (mode L), (H, W, 3) for colour."""
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img if img.mode in ("L", "RGB") else img.convert("RGB"))


def loss_curves(run_dir, history: list[dict], is_variational: bool) -> list[dict]:
    """figures/train_loss.png: train and test loss per epoch (and KL for a VAE)."""
    from ..figures.curves import save_loss_curves

    rel = f"{FIGURES_DIR}/train_loss.png"
    if not history or save_loss_curves(Path(run_dir) / rel, history, is_variational) is None:
        return []
    return [{"path": rel, "title": "Loss per epoch", "kind": "png", "section": "training",
             "caption": "Per-image loss on the training images (running, during the epoch) and on the test "
                        "images (after the epoch)."}]
