"""Optimizers and per-batch learning-rate schedules, chosen through the registries.

`latentatlas.registry.OPTIMIZERS` / `SCHEDULES` name each kind's class; the few
keyword arguments that differ between them are here, one function per kind.
"""

from __future__ import annotations

from ..registry import OPTIMIZERS, SCHEDULES


def _fused(dev) -> dict:
    """torch's fused kernels where the device has them (CPU and CUDA): the default per-tensor
    loop of Adam took 29% of a training step of our default VAE on a CPU (torch.profiler)."""
    return {"fused": True} if dev.type in ("cpu", "cuda") else {}


def _adam(cfg, dev) -> dict:
    return {"weight_decay": cfg.weight_decay, **_fused(dev)}


def _rmsprop(cfg, dev) -> dict:
    # Keras' RMSprop default (study 002): rho 0.9, eps 1e-7, no momentum. No fused kernel:
    # the multi-tensor (foreach) path.
    return {"alpha": 0.9, "eps": 1e-7, "weight_decay": cfg.weight_decay, "foreach": True}


def _sgd(cfg, dev) -> dict:
    return {"momentum": cfg.momentum, "weight_decay": cfg.weight_decay, "nesterov": cfg.momentum > 0,
            **_fused(dev)}


def _muon(cfg, dev) -> dict:
    # Muon on the weight matrices and conv kernels, Adam on biases and norms (training/muon.py).
    return {"weight_decay": cfg.weight_decay}


# optimizer name -> its keyword arguments besides the parameters and lr
OPTIMIZER_KWARGS = {"adam": _adam, "adamw": _adam, "rmsprop": _rmsprop, "sgd": _sgd, "muon": _muon}


def make_optimizer(params, cfg, device=None):
    """cfg: TrainConfig (optimizer, lr, weight_decay, momentum); the class from OPTIMIZERS."""
    import torch

    entry = OPTIMIZERS.entry(cfg.optimizer)
    params = list(params)
    dev = torch.device(device) if device is not None else params[0].device
    return entry.cls(params, lr=cfg.lr, **OPTIMIZER_KWARGS[entry.name](cfg, dev))


def _cycles_momentum(cfg) -> bool:
    # Momentum (Adam's beta1) cycles against the rate, where the optimizer has one (muon:
    # for its Adam part; Muon's own momentum stays at 0.95).
    return cfg.optimizer in ("adam", "adamw", "muon") or (cfg.optimizer == "sgd" and cfg.momentum > 0)


# schedule name -> its keyword arguments, given (cfg, total steps)
SCHEDULE_KWARGS = {
    "cosine": lambda cfg, total: {"T_max": total},                        # to 0 over the run
    # Smith & Topor 2019: warm-up to cfg.lr over 25% of the steps, then cosine down.
    "onecycle": lambda cfg, total: {"max_lr": cfg.lr, "total_steps": total, "pct_start": 0.25,
                                    "cycle_momentum": _cycles_momentum(cfg)},
}


def make_schedule(optimizer, cfg, total_steps: int):
    """A scheduler stepped once per batch, or None ("none", or too short a run)."""
    entry = SCHEDULES.entry(cfg.schedule)
    total_steps = int(total_steps)
    if not entry.target or total_steps < 10:  # too few steps to warm up and anneal (OneCycleLR divides by zero)
        return None
    return entry.cls(optimizer, **SCHEDULE_KWARGS[entry.name](cfg, total_steps))
