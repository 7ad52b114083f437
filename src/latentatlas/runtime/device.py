"""The one rule for where torch work runs: training, encoding, the judge, the analysis's torch
backend, the explorer and the exporters all ask `choose_device`.

"auto" is CUDA where torch sees a GPU, else Apple MPS, else the CPU; a named device is
checked against this machine, so `--device cuda` on a CPU-only torch is one clear line.
"""

from __future__ import annotations

from ..errors import UserError


def choose_device(name=None, local_rank: int = 0):
    """"auto" (or None) -> CUDA if present, else Apple MPS, else CPU; or exactly what was asked
    (a name or a torch.device), validated: a device this machine lacks is one UserError line."""
    import torch

    name = "auto" if name is None else str(name).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {name} asked for, but {_no_cuda_reason(torch)}; available here: "
                            f"{', '.join(available_devices())} (--device auto picks the first)")
        if dev.index is None:
            dev = torch.device("cuda", local_rank % torch.cuda.device_count())
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UserError("--device mps asked for, but Apple MPS is not available; use --device auto or cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"unsupported device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    return dev


def available_devices() -> list[str]:
    """The device names this process can train on, best first: cuda:N..., mps, cpu."""
    import torch

    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names + ["cpu"]


def _no_cuda_reason(torch) -> str:
    if torch.version.cuda is None:
        return f"this torch ({torch.__version__}) was built without CUDA"
    return f"this torch (CUDA {torch.version.cuda}) finds no CUDA GPU (driver, or CUDA_VISIBLE_DEVICES?)"
