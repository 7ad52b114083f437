"""Training checkpoints: one safetensors file, renamed into place atomically.

    checkpoint/last.safetensors
      tensors   "model.<name>"        the model's state_dict (weights, BatchNorm buffers)
                "optim.<i>.<name>"    the optimizer's per-parameter state (Adam moments, ...)
      metadata  "state"               JSON: epoch, history rows, optimizer param_groups and
                                      scalar state, scheduler state, model spec, configs

One file means the weights, the optimizer and the loop state always belong to the
same completed epoch, whatever moment the process is killed at. No pickle.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError
from ..rundir import CHECKPOINT, CHECKPOINT_DIR, RunDir


def checkpoint_path(run_dir) -> Path:
    return RunDir(run_dir).checkpoint_path


def save_checkpoint(run_dir, model, optimizer, scheduler, state: dict) -> None:
    from safetensors.torch import save

    tensors = {f"model.{k}": v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars = {}
    for pid, pstate in opt["state"].items():
        for key, value in pstate.items():
            if hasattr(value, "detach"):
                tensors[f"optim.{pid}.{key}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    meta_state = dict(state, optimizer_groups=opt["param_groups"], optimizer_scalars=scalars,
                      scheduler=scheduler.state_dict() if scheduler is not None else None)
    meta = {"format": "pt", "state": json.dumps(meta_state)}
    RunDir(run_dir).write_checkpoint(save(tensors, metadata=meta))


def read_checkpoint(run_dir) -> tuple[dict, dict, dict]:
    """(model_state, optimizer_tensors {pid: {key: tensor}}, state) or UserError."""
    from safetensors import SafetensorError, safe_open

    path = checkpoint_path(run_dir)
    if not path.exists():
        raise UserError(f"{run_dir} has no training checkpoint to resume from ({CHECKPOINT_DIR}/{CHECKPOINT}); "
                        "train without --resume first")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
        state = json.loads(meta["state"])
    except (SafetensorError, OSError, ValueError, KeyError, RuntimeError) as exc:
        raise UserError(f"{path} is corrupt or truncated ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
                        "delete it and train again without --resume") from None
    model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    optim = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, key = k.split(".", 2)
            optim.setdefault(int(pid), {})[key] = v
    return model_state, optim, state


def restore_optimizer(optimizer, optim_tensors: dict, state: dict) -> None:
    import torch

    groups = state["optimizer_groups"]
    per_param = {int(pid): dict(v) for pid, v in optim_tensors.items()}
    for pid, scalars in (state.get("optimizer_scalars") or {}).items():
        per_param.setdefault(int(pid), {}).update(scalars)
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    # Saved state is contiguous (NCHW); a channels_last parameter needs its moments in the
    # same layout, as fused optimizers walk parameter and state memory side by side.
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if hasattr(value, "shape") and value.shape == p.shape and value.stride() != p.stride():
                    optimizer.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
