"""save_model / load_model: model.json (how to rebuild) + model.safetensors (weights, no pickle).

The files' names and the atomic write belong to `latentatlas.rundir.RunDir`; this module
only turns a model into bytes and back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import UserError
from ..rundir import RunDir


def weights_bytes(model, metadata: dict | None = None) -> bytes:
    """The model's state_dict as safetensors bytes (CPU, contiguous)."""
    from safetensors.torch import save

    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    return save(state, metadata=metadata)


def save_model(run_dir, model) -> None:
    """Write model.safetensors then model.json, each atomically (weights first, so a
    model.json never points at missing weights)."""
    spec = model.spec()
    RunDir(run_dir).write_model(weights_bytes(model, {"format": "pt", "spec": json.dumps(spec)}), spec)


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

    rd = RunDir(run_dir)
    model = build_model(rd.read_model_spec())
    load_state(model, read_weights(rd.weights_path), rd.weights_path)
    return model.to(device).eval()
