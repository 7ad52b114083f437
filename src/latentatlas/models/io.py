"""save_model / load_model: model.json (how to rebuild) + model.safetensors (weights, no pickle)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import UserError
from ..rundir import MODEL_JSON, WEIGHTS, atomic_save, atomic_write_json, read_json


def save_model(run_dir, model) -> None:
    """Write model.safetensors then model.json, each atomically (weights first, so a
    model.json never points at missing weights)."""
    from safetensors.torch import save_file

    run_dir = Path(run_dir)
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "pt", "spec": json.dumps(model.spec())}
    atomic_save(run_dir / WEIGHTS, lambda tmp: save_file(state, tmp, metadata=meta))
    atomic_write_json(run_dir / MODEL_JSON, model.spec())


def read_weights(path: os.PathLike) -> dict:
    """Load a safetensors file to CPU tensors; UserError if it is missing, truncated or corrupt."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; train first (`latentatlas train --out {path.parent}`)")
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise UserError(f"{path} is corrupt or truncated ({str(exc).splitlines()[0]}); "
                        "re-train or restore it") from None


def load_state(model, state: dict, source) -> None:
    """load_state_dict with one clear line when the weights belong to another architecture."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()
        reason = first[1].strip() if len(first) > 1 else first[0]
        raise UserError(f"{source} holds weights of another architecture than its model.json "
                        f"({reason[:200]}); re-train or restore the matching files") from None


def load_model(run_dir, device="cpu"):
    """Rebuild the model from model.json, load its weights, move it to `device`, eval mode."""
    from . import build_model

    run_dir = Path(run_dir)
    if not (run_dir / MODEL_JSON).exists():
        raise UserError(f"{run_dir} has no {MODEL_JSON}; run `latentatlas train --out {run_dir}` first")
    model = build_model(read_json(run_dir / MODEL_JSON))
    load_state(model, read_weights(run_dir / WEIGHTS), run_dir / WEIGHTS)
    return model.to(device).eval()
