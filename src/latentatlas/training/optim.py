"""Optimizers and per-batch learning-rate schedules, straight from torch.optim."""

from __future__ import annotations


def make_optimizer(params, cfg, device=None):
    """cfg: TrainConfig (optimizer, lr, weight_decay, momentum; muon: see training/muon.py).

    Adam, AdamW and SGD use torch's fused kernels where the device has them (CPU and CUDA):
    the default per-tensor loop of Adam took 29% of a training step of our default VAE on
    a CPU (torch.profiler), the fused one a fraction of that. RMSprop has no fused kernel;
    it takes the multi-tensor (foreach) path.
    """
    import torch

    name, lr, wd = cfg.optimizer, cfg.lr, cfg.weight_decay
    params = list(params)
    dev = torch.device(device) if device is not None else params[0].device
    fast = {"fused": True} if dev.type in ("cpu", "cuda") else {}
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, **fast)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd, **fast)
    if name == "rmsprop":
        # Keras' RMSprop default (study 002): rho 0.9, eps 1e-7, no momentum.
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7, weight_decay=wd, foreach=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=wd, nesterov=cfg.momentum > 0,
                               **fast)
    if name == "muon":
        # Muon on the weight matrices and conv kernels, Adam on biases and norms (training/muon.py).
        from .muon import MuonAdam

        return MuonAdam(params, lr=lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {name!r}")


def make_schedule(optimizer, cfg, total_steps: int):
    """A scheduler stepped once per batch, or None. cosine: to 0 over the run;
    onecycle: Smith & Topor 2019, warm-up to cfg.lr over 25% then cosine down."""
    import torch

    total_steps = int(total_steps)
    if total_steps < 10:  # too few steps to warm up and anneal (OneCycleLR divides by zero)
        return None
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if cfg.schedule == "onecycle":
        # Momentum (Adam's beta1) cycles against the rate, where the optimizer has one (muon:
        # for its Adam part; Muon's own momentum stays at 0.95).
        cycle = cfg.optimizer in ("adam", "adamw", "muon") or (cfg.optimizer == "sgd" and cfg.momentum > 0)
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total_steps,
                                                   pct_start=0.25, cycle_momentum=cycle)
    return None
