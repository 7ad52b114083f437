"""torch.distributed for training (the device and thread rules are latentatlas.runtime's).

Data-parallel training is started by `torchrun` (it sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR/PORT); the same command trains on one process otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass



@dataclass
class Dist:
    """This process's place in a data-parallel group (rank 0 of 1 when not distributed)."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    started: bool = False  # we called init_process_group (so we tear it down)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_name: str = "auto") -> Dist:
    """Join the process group torchrun described in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch
    import torch.distributed as dist

    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_initialized():
        return Dist(rank, world, local, started=False)
    wants_gpu = device_name in ("auto", "cuda") or str(device_name).startswith("cuda")
    backend = "nccl" if (wants_gpu and torch.cuda.is_available()) else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local % torch.cuda.device_count())
    dist.init_process_group(backend=backend)
    return Dist(rank, world, local, started=True)


def wait_for_all(d: Dist) -> None:
    """Barrier at the end of a successful run. Rank 0 still writes the final figures and
    metrics after the others have finished their share; without this, another rank tears
    down the gloo process group and exits under it, which can abort that rank
    ("terminate called without an active exception") and torchrun then kills rank 0.
    Only on success: after an error one rank would wait forever for the others."""
    if d.started:
        import torch.distributed as dist

        dist.barrier()


def close_distributed(d: Dist) -> None:
    if d.started:
        import torch.distributed as dist

        dist.destroy_process_group()


def bf16_matmul_units(device) -> bool:
    """Whether `device` multiplies bfloat16 in hardware, so autocast speeds training up.

    CUDA: compute capability 8.0+ (Ampere tensor cores). CPU: Intel AMX tiles, which
    oneDNN uses for bfloat16 convolutions and matrix products (about 1.4x images/s
    for the default VAE on one 2-core Xeon, benchmarks/bench_pythae.py --precision); on
    CPUs without them bfloat16 is emulated and slower, so it stays off.
    """
    import torch

    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)  # private; absent in older torch
        try:
            return bool(amx and amx() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def resolve_amp(amp, device) -> bool:
    """TrainConfig.amp -> whether to autocast: "auto" follows `bf16_matmul_units`."""
    if amp == "auto":
        return bf16_matmul_units(device)
    return bool(amp) and device.type in ("cuda", "cpu")
