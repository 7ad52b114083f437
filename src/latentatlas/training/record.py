"""Recording a training: the epoch's history row, checkpoint, weights, progress grids,
the printed line, and at the end the figures and the metrics.json "train" section.

Every file goes through `RunDir` (atomic, durable). Per epoch the checkpoint is written
first, then the weights, then history.jsonl: whatever write fails, the checkpoint is at
least as new as everything else, and `--resume` (which rewrites the history from the
checkpoint) continues from the last complete epoch.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict

from ..rundir import RunDir

# history.jsonl keys that measure time: everything else is identical for identical seeds on CPU.
TIMING_KEYS = ("seconds", "train_seconds", "images_per_s", "cpu_seconds")


def history_row(s, epoch: int, sums, test: dict, clock: dict) -> dict | None:
    """One history.jsonl line (losses per image, MSE per pixel and channel, a VAE's bits per
    dimension, lr, times); None when a figure is NaN or infinite. clock: t0, c0 (wall and CPU start) and train_seconds."""
    tr = (sums.sums / sums.seen).tolist()
    row = {"epoch": epoch, "train_loss": tr[0], "train_recon": tr[1]}
    if s.net.is_variational:
        row["train_kl"] = tr[2]
    row["train_mse"] = tr[3] / s.pixels
    row.update({f"test_{k}": v for k, v in test.items()})
    row["test_mse"] = row["test_mse"] / s.pixels
    if not all(math.isfinite(v) for v in row.values()):
        return None
    row["lr"] = s.optimizer.param_groups[0]["lr"]
    row["train_seconds"] = round(clock["train_seconds"], 3)
    row["seconds"] = round(time.perf_counter() - clock["t0"], 3)
    # CPU time of this process (all its threads): on a shared machine it shows the
    # work done, which wall-clock seconds blur with other people's load.
    row["cpu_seconds"] = round(time.process_time() - clock["c0"], 3)
    row["images_per_s"] = round(sums.seen / clock["train_seconds"], 1)
    return row


def record_epoch(rd: RunDir, s, cfg, data_cfg, epoch: int, code_stats) -> None:
    """Rank 0, after each completed epoch: progress grids, checkpoint, weights, history, a line."""
    from ..models import save_model
    from .checkpoint import save_checkpoint

    if cfg.progress_every and (epoch % cfg.progress_every == 0 or epoch == cfg.epochs) or epoch == cfg.epochs:
        s.progress.save(s.net, epoch, code_stats)
    save_checkpoint(rd.path, s.net, s.optimizer, s.scheduler,
                    {"epoch": epoch, "history": s.history, "model_spec": s.spec,
                     "data": asdict(data_cfg), "train": asdict(cfg)})
    s.saved_epoch = epoch
    save_model(rd.path, s.net)
    rd.write_history(s.history)
    print_epoch(s.history[-1], cfg.epochs, s.net.is_variational, s.show_bar)


def print_epoch(row: dict, epochs: int, variational: bool, show: bool) -> None:
    if not show:
        return
    kl = f" (KL {row['test_kl']:.2f})" if variational else ""
    bpd = f" ({row['test_bpd']:.3f} bits/dim)" if "test_bpd" in row else ""
    msg = (f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f}, test loss "
           f"{row['test_loss']:.4f}{kl}, test MSE {row['test_mse']:.5f}{bpd}, {row['seconds']:.1f} s, "
           f"{row['images_per_s']:.0f} images/s")
    from tqdm.auto import tqdm

    tqdm.write(msg, file=sys.stderr)


def _bpd_metrics(net, last: dict) -> dict:
    """A VAE's test bits per dimension and the likelihood it is measured under (nothing for an AE:
    it has no likelihood). test_mse is already per value: divided by C * H * W (history_row)."""
    if not net.is_variational:
        return {}
    from ..models.losses import BPD_LIKELIHOOD

    return {"test_bpd": last.get("test_bpd"), "bpd_likelihood": BPD_LIKELIHOOD}


def finish(rd: RunDir, s, cfg, world: int, stopped: bool) -> dict:
    """Figures and the metrics.json "train" section."""
    from .progress import loss_curves, progress_gifs

    net, history = s.net, s.history
    figures = loss_curves(rd.path, history, net.is_variational) + progress_gifs(rd.path)
    last = history[-1] if history else {}
    rates = sorted(h["images_per_s"] for h in history)
    metrics = {
        "model": net.name,
        "latent_dim": net.latent_dim,
        "variational": net.is_variational,
        "n_parameters": net.n_parameters,
        "epochs": len(history),
        "epochs_planned": cfg.epochs,
        "completed": bool(len(history) == cfg.epochs and not stopped),
        "final": {k: v for k, v in last.items() if k not in TIMING_KEYS and k != "lr"},
        "test_loss": last.get("test_loss"),
        "test_mse": last.get("test_mse"),
        "loss_units": ("per image: reconstruction (BCE or squared error summed over pixels) + beta*KL"
                       if net.is_variational else "per image: reconstruction summed over pixels"),
        **_bpd_metrics(net, last),
        "seconds": round(sum(h["seconds"] for h in history), 3),
        "images_per_s": rates[len(rates) // 2] if rates else None,
        "device": str(s.device),
        "threads": s.threads,
        "precision": "bfloat16 autocast" if s.amp else "float32",   # of the training pass; test losses in float32
        "step": s.step_kind,            # eager, torch.compile or CUDA graphs (TrainConfig.compile)
        "world_size": world,
        "batch_size": cfg.batch_size,
        "figures": figures,
    }
    rd.update_metrics("train", metrics)
    return metrics
