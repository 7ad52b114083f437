"""The pieces of one training: prepare it, run one epoch, evaluate on the test split.

`latentatlas.stages.train.train_run` reads as prepare / run one epoch / evaluate / record;
this module holds the first three, `training/record.py` the last. Seeds come from
(seed, epoch, rank, purpose) through `seed_of`, so a resumed run continues exactly as
the uninterrupted one would have.
"""

from __future__ import annotations

import math
import os
import signal
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ..errors import UserError
from ..rundir import RunDir


def seed_of(*parts: int) -> int:
    """A 63-bit seed from several integers (seed, epoch, rank, purpose)."""
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (int(p) & 0xFFFFFFFF)) * 1099511628211) % (1 << 63)
    return h


class StopFlag:
    """First Ctrl-C asks the loop to stop after saving; a second one interrupts at once."""

    def __init__(self, enabled: bool = True):
        self.requested = False
        self.enabled = enabled  # off under torchrun: ranks stopping at different steps would hang
        self._old = None

    def __enter__(self):
        import threading

        if self.enabled and threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


@dataclass
class Session:
    """Everything one training holds between epochs."""
    net: Any                      # the model itself (what is saved)
    model: Any                    # what is called: net, or its DistributedDataParallel wrapper
    optimizer: Any
    scheduler: Any
    x_train: Any                  # uint8 (N, C, H, W) on the device
    x_test: Any                   # uint8 (M, C, H, W) on the device
    device: Any
    fmt: Any                      # torch memory format of the batches and weights
    amp: bool                     # bfloat16 autocast of the training pass
    threads: int
    batch: int                    # global batch size
    steps_per_epoch: int
    spec: dict                    # model.json content
    start_epoch: int = 0
    history: list[dict] = field(default_factory=list)
    saved_epoch: int = 0          # last epoch whose checkpoint is on disk
    progress: Any = None
    trackers: Any = None          # --tensorboard / --mlflow (latentatlas.tracking.Trackers)
    show_bar: bool = False
    compiled: Any = None          # the compiled forward + loss (TrainConfig.compile), or None: eager
    compile_ok: bool = False      # it has run once (a later failure is a real error)
    eval_batch: int = 1000        # test images per evaluation batch (halved on out-of-memory)
    step_kind: str = "eager"      # how the training step ran, for metrics.json

    @property
    def pixels(self) -> int:
        return int(self.x_train[0].numel())


def check_input(rd: RunDir, data_cfg, model_cfg, cfg, resume: bool, overwrite: bool, dist):
    """Everything that can fail on user input, before a single file is written.
    Returns (dataset, model spec, checkpoint or None, batch size)."""
    from ..data import load_dataset
    from ..models import model_from_config
    from .checkpoint import read_checkpoint
    from ..runtime import choose_device

    choose_device(cfg.device, dist.local_rank)     # --device cuda without CUDA: one line, no file
    ds = load_dataset(**asdict(data_cfg))
    spec = model_from_config(model_cfg, ds.image_shape, ds.channels).spec()
    ckpt = None
    if resume:
        ckpt = read_checkpoint(rd.path)
        spec = _resumed_channels(ckpt[2], spec, model_cfg)
        check_resume(rd, ckpt[2], spec, data_cfg, cfg)
    elif not overwrite and rd.has_training():
        raise UserError(f"{rd.path} already holds a trained model; pass --resume to continue it, "
                        "--overwrite to train it again from scratch, or choose another --out")
    n_train = min(len(ds.x_train), cfg.max_train_images or len(ds.x_train))
    batch = min(cfg.batch_size, n_train)
    if batch % dist.world_size:
        raise UserError(f"batch size {batch} does not split evenly over {dist.world_size} processes; "
                        f"choose a multiple of {dist.world_size}")
    return ds, spec, ckpt, batch


def _resumed_channels(state, spec: dict, model_cfg) -> dict:
    """Conv widths left unset take the checkpoint's: a run started before the depth rule
    (models.conv.auto_channels) on images larger than 28x28 resumes with its own network."""
    old = (state.get("model_spec") or {}).get("config") or {}
    new = spec["config"]
    if model_cfg.channels is not None or "channels" not in old or "channels" not in new:
        return spec
    return {**spec, "config": {**new, "channels": old["channels"]}}


def check_resume(rd, state, spec, data_cfg, cfg) -> None:
    """The checkpoint must hold this model, this data, and (under a schedule) this length."""
    old = state.get("model_spec") or {}
    if old != spec:
        raise UserError(f"the checkpoint in {rd.path} is a {old.get('name')!r} model with "
                        f"{_diff(old.get('config', {}), spec['config'])}; resume with the same model "
                        "settings (or leave them out to take the run's own) or train into a new --out")
    from ..settings.stages import drop_later_defaults

    old_data = drop_later_defaults("data", dict(state.get("data") or {}))
    new_data = drop_later_defaults("data", asdict(data_cfg))
    for d in (old_data, new_data):
        d.pop("data_dir", None)
    if old_data != new_data:
        raise UserError(f"the checkpoint in {rd.path} was trained on other data ({_diff(old_data, new_data)}); "
                        "resume with the same data settings")
    old_train = state.get("train") or {}
    if cfg.schedule != "none" and old_train.get("epochs") != cfg.epochs:
        raise UserError(f"{rd.path} was planned for {old_train.get('epochs')} epochs under a "
                        f"{cfg.schedule} schedule; resume with --epochs {old_train.get('epochs')} "
                        "(or train a new run to change its length)")


def _diff(old: dict, new: dict) -> str:
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return ", ".join(f"{k}={old.get(k)!r} (asked: {new.get(k)!r})" for k in keys[:4]) or "other settings"


def images_on_device(ds, cfg, device):
    """uint8 tensors on the device, (N, C, H, W): a seeded subset of the training images
    (kept in their order) and the whole test split. Batches become float [0, 1] per step."""
    import torch

    x_train = torch.from_numpy(ds.x_train)
    n_all = len(x_train)
    n_train = min(n_all, cfg.max_train_images or n_all)
    if n_train < n_all:
        keep = torch.randperm(n_all, generator=torch.Generator().manual_seed(seed_of(cfg.seed, 7)))[:n_train]
        x_train = x_train[keep.sort().values]
    return x_train.to(device), torch.from_numpy(ds.x_test).to(device)


def build_session(rd, ds, model_cfg, cfg, dist, batch: int, spec: dict, ckpt) -> Session:
    """Data on the device, the model (seeded init), optimizer and schedule; restored when resuming.
    The network is built from `spec` (check_input's, which model_cfg made; on resume it may carry
    the checkpoint's conv widths)."""
    import torch

    from ..models import build_model
    from ..runtime import choose_device, set_threads
    from .devices import resolve_amp
    from .optim import make_optimizer, make_schedule
    from .speed import compiled_step, eval_batch, scaled_lr

    device = choose_device(cfg.device, dist.local_rank)
    threads = set_threads(cfg.threads, dist.world_size)
    if device.type == "cuda":   # fixed batch shapes: let cuDNN pick its fastest convolutions once
        torch.backends.cudnn.benchmark = True
    x_train, x_test = _data_on_device(ds, cfg, device)
    steps_per_epoch = max(1, len(x_train) // batch)          # drop the last partial batch
    torch.manual_seed(seed_of(cfg.seed, 0))
    net = build_model(spec)               # re-seeded init: same weights every run (spec: check_input's)
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    net.to(device, memory_format=fmt)
    opt_cfg = replace(cfg, lr=scaled_lr(cfg.lr, batch, cfg.lr_scaling))   # lr_scaling: the rate for this batch
    optimizer = make_optimizer(net.parameters(), opt_cfg)
    scheduler = make_schedule(optimizer, opt_cfg, cfg.epochs * steps_per_epoch)
    s = Session(net=net, model=net, optimizer=optimizer, scheduler=scheduler, x_train=x_train, x_test=x_test,
                device=device, fmt=fmt, amp=resolve_amp(cfg.amp, device), threads=threads, batch=batch,
                steps_per_epoch=steps_per_epoch, spec=spec,
                show_bar=dist.is_main and not os.environ.get("LATENTATLAS_NO_BAR"), eval_batch=eval_batch(device))
    if ckpt is not None:
        _restore(rd, s, ckpt)
    if dist.enabled:
        s.model = _data_parallel(net, device)
    s.compiled = compiled_step(s, cfg.compile)
    if s.compiled is not None:
        s.step_kind = "CUDA graphs (torch.compile reduce-overhead)" if s.device.type == "cuda" and \
            cfg.compile in ("auto", "cudagraphs") else "torch.compile"
    return s


def _data_on_device(ds, cfg, device):
    """images_on_device, with one line when the images do not fit in the GPU's memory."""
    import torch

    try:
        return images_on_device(ds, cfg, device)
    except torch.OutOfMemoryError:
        free_cuda_cache(device)
        mb = (ds.x_train.nbytes + ds.x_test.nbytes) / 2**20
        raise UserError(f"the dataset ({mb:.0f} MB as uint8) does not fit in the memory of {device}; "
                        "train on fewer images (--max-train-images N) or on --device cpu") from None


def _restore(rd: RunDir, s: Session, ckpt) -> None:
    from ..models.io import load_state
    from .checkpoint import restore_optimizer

    model_state, optim_tensors, state = ckpt
    load_state(s.net, model_state, rd.checkpoint_path)
    s.net.to(s.device, memory_format=s.fmt)
    restore_optimizer(s.optimizer, optim_tensors, state)
    if s.scheduler is not None and state.get("scheduler"):
        s.scheduler.load_state_dict(state["scheduler"])
    s.history = state["history"]
    s.start_epoch = s.saved_epoch = int(state["epoch"])


def _data_parallel(net, device):
    import torch
    from torch.nn.parallel import DistributedDataParallel as DDP

    if device.type == "cuda":  # one set of batch statistics over all GPUs (CPU has no SyncBatchNorm)
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    return DDP(net, device_ids=[device.index] if device.type == "cuda" else None)


@dataclass
class EpochSums:
    """What one epoch's training pass measured (summed over all ranks)."""
    sums: Any                     # float64 (4,): loss, recon, kl, squared error, summed over images
    seen: int                     # images trained on
    nan_msg: str | None = None    # the running loss stopped being finite
    stopped: bool = False         # Ctrl-C was asked for during the epoch
    last: Any = None              # the last batch's loss parts (summed over its images), for the trackers
    last_n: int = 0               # ... and its number of images


def run_epoch(s: Session, cfg, epoch: int, dist, stop) -> EpochSums:
    """One pass over the (re-shuffled) training images: forward, loss, backward, step.

    The host looks at the running loss every few steps (training/speed.py LossWatch: at
    once on a CPU, through a lagged non-blocking copy on CUDA, so no step waits for the GPU)."""
    import torch

    if hasattr(s.net, "begin_epoch"):     # e.g. VaDE fits its mixture prior after pretraining
        note = s.net.begin_epoch(epoch, s.x_train, seed=cfg.seed)
        if note and s.show_bar:
            print(note, file=sys.stderr)
    s.net.train()
    torch.manual_seed(seed_of(cfg.seed, epoch, dist.rank, 1))       # sampling noise of this epoch
    out = EpochSums(torch.zeros(4, dtype=torch.float64, device=s.device), 0)
    bar = _bar(s.show_bar, s.steps_per_epoch * s.batch, f"epoch {epoch}/{cfg.epochs}")
    try:
        _steps(s, cfg, epoch, dist, stop, out, bar)
    finally:                  # also when a step fails (out of memory): the error line starts clean
        if bar is not None:
            bar.close()
    if dist.enabled and not (out.nan_msg or out.stopped):
        _all_reduce_sums(out, s.device)
    return out


def _steps(s: Session, cfg, epoch: int, dist, stop, out: EpochSums, bar) -> None:
    """The epoch's steps, with a look at the running loss (NaN, progress bar, trackers) every few."""
    import torch

    from .speed import LossWatch, look_every

    perm = torch.randperm(len(s.x_train), generator=torch.Generator().manual_seed(seed_of(cfg.seed, epoch, 2)))
    perm = perm.to(s.device, non_blocking=True)
    local = s.batch // dist.world_size
    watch, every, points = LossWatch(s.device), look_every(s.device), []
    for step in range(s.steps_per_epoch):
        lo = step * s.batch + dist.rank * local
        _train_step(s, cfg, s.x_train[perm[lo:lo + local]], out)
        last = step == s.steps_per_epoch - 1
        if s.trackers and (step % 10 == 9 or last):   # this batch's losses, every 10 steps
            points.append(_tracker_point(s, epoch, step, out))
        if step % every == every - 1 or last:
            seen = watch.last(out.sums[0], out.seen, step) if last else watch.look(out.sums[0], out.seen, step)
            if seen is not None and not math.isfinite(seen[0]):
                out.nan_msg = f"the training loss became {seen[0]} in epoch {epoch} (step {seen[1] + 1}); stopped"
                break
            if not watch.lagged or last:
                _flush_points(s, points)
            if bar is not None and seen is not None:
                bar.set_postfix(loss=f"{seen[0]:.4g}", refresh=False)
                bar.update(out.seen * dist.world_size - bar.n)
        if stop.requested:
            out.stopped = True
            break


def _tracker_point(s: Session, epoch: int, step: int, out: EpochSums) -> tuple:
    """(global step, detached loss parts per image, lr): read by the host when flushed."""
    # clone: under CUDA graphs the next replay overwrites the step's outputs
    parts = {k: v.detach().clone() for k, v in out.last.items() if k != "sq_err"}
    return (epoch - 1) * s.steps_per_epoch + step + 1, parts, out.last_n, s.optimizer.param_groups[0]["lr"]


def _flush_points(s: Session, points: list) -> None:
    for global_step, parts, n, lr in points:
        s.trackers.on_step(global_step, {k: float(v) / n for k, v in parts.items()}, lr)
    points.clear()


def _train_step(s: Session, cfg, batch_u8, out: EpochSums) -> None:
    import torch

    from .speed import forward_backward

    xb = batch_u8.float().div_(255)                                  # (b, C, H, W) in [0, 1]
    xb = xb.contiguous(memory_format=s.fmt)
    x_in = xb
    if cfg.input_noise:                                              # denoising: corrupt the input only
        x_in = (xb + cfg.input_noise * torch.randn_like(xb)).clamp_(0, 1)
    parts = forward_backward(s, x_in, xb)                            # loss parts; gradients set
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_(s.net.parameters(), cfg.grad_clip)
    s.optimizer.step()
    if s.scheduler is not None:
        s.scheduler.step()
    out.sums += torch.stack([parts["loss"].detach(), parts["recon"].detach(),
                             parts.get("kl", parts["recon"].new_zeros(())).detach(),
                             parts["sq_err"]]).double()
    out.seen += len(xb)
    out.last, out.last_n = parts, len(xb)


def _all_reduce_sums(out: EpochSums, device) -> None:
    import torch
    import torch.distributed as tdist

    seen_t = torch.tensor([float(out.seen)], dtype=torch.float64, device=device)
    tdist.all_reduce(out.sums)
    tdist.all_reduce(seen_t)
    out.seen = int(seen_t.item())


def _bar(show: bool, total: int, desc: str):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", unit_scale=True, leave=False, dynamic_ncols=True,
                file=sys.stderr)


def evaluate_fitting(s: Session, cfg, epoch: int, dist):
    """`evaluate` in batches of s.eval_batch, halved (and kept halved) while the GPU runs out of
    memory; the test losses are sums, so they do not depend on the batch up to rounding."""
    import torch

    while True:
        try:
            return evaluate(s.net, s.x_test, cfg, epoch, dist, s.device, batch=s.eval_batch)
        except torch.OutOfMemoryError:
            if s.eval_batch <= 1:
                raise
            free_cuda_cache(s.device)
            s.eval_batch = max(1, s.eval_batch // 2)


def free_cuda_cache(device) -> None:
    if device.type == "cuda":
        import torch

        torch.cuda.empty_cache()


def evaluate(net, x_test, cfg, epoch, dist, device, batch: int = 1000):
    """Per-image test losses (sampled z for a VAE, seeded), a VAE's bits per dimension, and the
    codes' mean and std (for the progress grids). Ranks split the test set and sum."""
    import torch

    net.eval()
    torch.manual_seed(seed_of(cfg.seed, epoch, dist.rank, 3))
    n = len(x_test)
    lo, hi = n * dist.rank // dist.world_size, n * (dist.rank + 1) // dist.world_size
    sums = torch.zeros(4, dtype=torch.float64, device=device)
    code_sum = code_sq = None
    with torch.no_grad():
        for i in range(lo, hi, batch):
            xb = x_test[i:min(i + batch, hi)].float().div_(255)
            out = net(xb)
            parts = net.loss_function(xb, out)
            sums += torch.stack([parts["loss"], parts["recon"], parts.get("kl", parts["recon"] * 0),
                                 parts["sq_err"]]).double()
            z = out["z"].double()
            code_sum = z.sum(0) if code_sum is None else code_sum + z.sum(0)
            code_sq = (z * z).sum(0) if code_sq is None else code_sq + (z * z).sum(0)
    if dist.enabled:
        import torch.distributed as tdist

        tdist.all_reduce(sums)
        tdist.all_reduce(code_sum)
        tdist.all_reduce(code_sq)
    net.train()
    s = (sums / n).tolist()
    test = {"loss": s[0], "recon": s[1]}
    if net.is_variational:
        test["kl"] = s[2]
    test["mse"] = s[3]                    # per image; history_row makes it per value (pixel and channel)
    if net.is_variational:                # the CIFAR literature's unit (likelihood: models.losses.bits_per_dim)
        from ..models.losses import bits_per_dim

        dims = int(x_test[0].numel())     # C * H * W
        test["bpd"] = bits_per_dim(s[3] / dims, s[2], dims)
    mean = code_sum / n
    std = (code_sq / n - mean * mean).clamp_min(1e-12).sqrt()
    return test, (mean.float().cpu(), std.float().cpu())
