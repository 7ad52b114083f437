"""The training loop: `train_run(run_dir, data, model, train, resume=False) -> dict`.

Batches are sliced from one uint8 tensor held on the training device (no
per-sample DataLoader); each epoch's shuffling and sampling noise come from
seeds derived from (seed, epoch), so a run resumed from its checkpoint after
epoch k continues exactly as the uninterrupted run would have. Under `torchrun`
the same code trains data-parallel (DistributedDataParallel; gloo on CPU, NCCL
on GPU): every rank takes its slice of each global batch, so the optimiser sees
the same batch size as a single process.

Files written (see `latentatlas.rundir`): config.json (data/model/train sections),
model.json + model.safetensors (after every epoch), checkpoint/last.safetensors,
history.jsonl, progress/*.png, figures/train_*.{png,gif}, metrics.json "train".
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path

from .errors import UserError
from .rundir import CHECKPOINT_DIR, HISTORY, LATENTS, PROGRESS_DIR, WEIGHTS, RunDir, atomic_write_json, \
    atomic_write_text, read_json

# history.jsonl keys that measure time: everything else is identical for identical seeds on CPU.
TIMING_KEYS = ("seconds", "train_seconds", "images_per_s", "cpu_seconds")


def _seed(*parts: int) -> int:
    """A 63-bit seed from several integers (seed, epoch, rank, purpose)."""
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (int(p) & 0xFFFFFFFF)) * 1099511628211) % (1 << 63)
    return h


class _StopFlag:
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


def train_run(run_dir, data, model, train, resume: bool = False, overwrite: bool = False) -> dict:
    """Train `model` (ModelConfig) on `data` (DataConfig) with `train` (TrainConfig) into run_dir.

    resume: continue from checkpoint/last.safetensors (UserError if there is none, or if it
    holds another architecture or dataset). overwrite: retrain a folder that already holds a
    trained model (otherwise UserError). Returns the metrics.json "train" section.
    """
    from .training.devices import close_distributed, init_distributed, wait_for_all

    dist = init_distributed(train.device)
    try:
        result = _train_run(RunDir(run_dir), data, model, train, resume, overwrite, dist)
        wait_for_all(dist)
        return result
    finally:
        close_distributed(dist)


def _train_run(rd: RunDir, data_cfg, model_cfg, cfg, resume, overwrite, dist) -> dict:
    import torch

    from .data import load_dataset
    from .models import model_from_config, save_model
    from .models.io import load_state
    from .training.checkpoint import checkpoint_path, read_checkpoint, restore_optimizer, save_checkpoint
    from .training.devices import choose_device, set_threads
    from .training.optim import make_optimizer, make_schedule

    t_start = time.perf_counter()
    # ---- everything that can fail on user input, before a single file is written ----
    ds = load_dataset(**asdict(data_cfg))
    net = model_from_config(model_cfg, ds.image_shape, 1)
    spec = net.spec()
    ckpt = None
    if resume:
        ckpt = read_checkpoint(rd.path)
        _check_resume(rd, ckpt[2], spec, data_cfg, cfg)
    elif not overwrite and (any((rd / n).exists() for n in (WEIGHTS, HISTORY))
                            or checkpoint_path(rd.path).exists()):
        raise UserError(f"{rd.path} already holds a trained model; pass --resume to continue it, "
                        "--overwrite to train it again from scratch, or choose another --out")
    world = dist.world_size
    n_all = len(ds.x_train)
    n_train = min(n_all, cfg.max_train_images or n_all)
    batch = min(cfg.batch_size, n_train)
    if batch % world:
        raise UserError(f"batch size {batch} does not split evenly over {world} processes; "
                        f"choose a multiple of {world}")
    device = choose_device(cfg.device, dist.local_rank)
    threads = set_threads(cfg.threads, world)
    if dist.is_main:
        rd.ensure()
        if not resume:
            _clear_previous(rd)
        config = read_json(rd / "config.json") if (rd / "config.json").exists() else {}
        if not isinstance(config, dict):
            config = {}
        config.update(data=asdict(data_cfg), model=asdict(model_cfg), train=asdict(cfg))
        atomic_write_json(rd / "config.json", config)

    # ---- data: uint8 tensors on the device, (N, 1, H, W); float [0, 1] per batch ----
    x_train = torch.from_numpy(ds.x_train).unsqueeze(1)
    if n_train < n_all:
        keep = torch.randperm(n_all, generator=torch.Generator().manual_seed(_seed(cfg.seed, 7)))[:n_train]
        x_train = x_train[keep.sort().values]
    x_train = x_train.to(device)
    x_test = torch.from_numpy(ds.x_test).unsqueeze(1).to(device)
    pixels = int(x_train[0].numel())
    steps_per_epoch = max(1, n_train // batch)          # drop the last partial batch
    local = batch // world

    # ---- model, optimiser, schedule; restore them when resuming ----
    torch.manual_seed(_seed(cfg.seed, 0))
    net = model_from_config(model_cfg, ds.image_shape, 1)  # re-seeded init: same weights every run
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    net.to(device, memory_format=fmt)
    optimizer = make_optimizer(net.parameters(), cfg)
    scheduler = make_schedule(optimizer, cfg, cfg.epochs * steps_per_epoch)
    history: list[dict] = []
    start_epoch = 0
    if ckpt is not None:
        model_state, optim_tensors, state = ckpt
        load_state(net, model_state, checkpoint_path(rd.path))
        net.to(device, memory_format=fmt)
        restore_optimizer(optimizer, optim_tensors, state)
        if scheduler is not None and state.get("scheduler"):
            scheduler.load_state_dict(state["scheduler"])
        history = state["history"]
        start_epoch = int(state["epoch"])
        if dist.is_main:  # the checkpoint is the truth: drop history lines of a lost epoch
            _write_history(rd, history)
    model = net
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel as DDP

        if device.type == "cuda":  # one set of batch statistics over all GPUs (CPU has no SyncBatchNorm)
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        model = DDP(net, device_ids=[device.index] if device.type == "cuda" else None)

    from .training.progress import ProgressImages

    progress = ProgressImages(rd.path, net.latent_dim, x_test, n_points=cfg.progress_images,
                              seed=cfg.seed) if dist.is_main else None
    from .tracking import trackers_for

    trackers = trackers_for(cfg, rd.path, resume=resume, main=dist.is_main)   # --tensorboard, --mlflow
    # bfloat16 autocast of the training pass: tensor cores on CUDA, AMX on recent Xeons
    # ("auto" uses it where such units exist). Test losses are always computed in float32.
    from .training.devices import resolve_amp

    amp = resolve_amp(cfg.amp, device)
    show_bar = dist.is_main and not os.environ.get("LATENTATLAS_NO_BAR")
    interrupted, nan_msg = False, None
    t_train = 0.0

    with _StopFlag(enabled=not dist.enabled) as stop:
        for epoch in range(start_epoch + 1, cfg.epochs + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            if hasattr(net, "begin_epoch"):     # e.g. VaDE fits its mixture prior after pretraining
                note = net.begin_epoch(epoch, x_train, seed=cfg.seed)
                if note and show_bar:
                    print(note, file=sys.stderr)
            net.train()
            torch.manual_seed(_seed(cfg.seed, epoch, dist.rank, 1))       # sampling noise of this epoch
            perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(_seed(cfg.seed, epoch, 2)))
            perm = perm.to(device)
            sums = torch.zeros(4, dtype=torch.float64, device=device)     # loss, recon, kl, squared error
            seen = 0
            bar = _bar(show_bar, steps_per_epoch * batch, f"epoch {epoch}/{cfg.epochs}")
            for step in range(steps_per_epoch):
                idx = perm[step * batch + dist.rank * local: step * batch + (dist.rank + 1) * local]
                xb = x_train[idx].float().div_(255)                        # (b, 1, H, W) in [0, 1]
                xb = xb.contiguous(memory_format=fmt)
                x_in = xb
                if cfg.input_noise:                                        # denoising: corrupt the input only
                    x_in = (xb + cfg.input_noise * torch.randn_like(xb)).clamp_(0, 1)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    out = model(x_in)
                    parts = net.loss_function(xb, {k: v.float() for k, v in out.items()})
                loss = parts["loss"] / len(xb)                             # mean over the batch
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                sums += torch.stack([parts["loss"].detach(), parts["recon"].detach(),
                                     parts.get("kl", parts["recon"].new_zeros(())).detach(),
                                     parts["sq_err"]]).double()
                seen += len(xb)
                if step % 10 == 9 or step == steps_per_epoch - 1:
                    running = sums[0].item() / seen
                    if not math.isfinite(running):
                        nan_msg = (f"the training loss became {running} in epoch {epoch} (step {step + 1}); "
                                   f"stopped")
                        break
                    if trackers:  # this batch's losses per image, every 10 steps
                        trackers.on_step((epoch - 1) * steps_per_epoch + step + 1,
                                         {k: float(v.detach()) / len(xb) for k, v in parts.items() if k != "sq_err"},
                                         optimizer.param_groups[0]["lr"])
                    if bar is not None:
                        bar.set_postfix(loss=f"{running:.4g}", refresh=False)
                        bar.update(seen * world - bar.n)
                if stop.requested:
                    break
            if bar is not None:
                bar.close()
            if nan_msg or stop.requested:
                interrupted = stop.requested and not nan_msg
                break
            train_seconds = time.perf_counter() - t0
            t_train += train_seconds
            if dist.enabled:
                import torch.distributed as tdist

                seen_t = torch.tensor([float(seen)], dtype=torch.float64, device=device)
                tdist.all_reduce(sums)
                tdist.all_reduce(seen_t)
                seen = int(seen_t.item())
            test, code_stats = _evaluate(net, x_test, cfg, epoch, dist, device)
            tr = (sums / seen).tolist()
            row = {"epoch": epoch,
                   "train_loss": tr[0], "train_recon": tr[1]}
            if net.is_variational:
                row["train_kl"] = tr[2]
            row["train_mse"] = tr[3] / pixels
            row.update({f"test_{k}": v for k, v in test.items()})
            row["test_mse"] = row["test_mse"] / pixels
            if not all(math.isfinite(v) for v in row.values()):
                nan_msg = f"the loss became NaN or infinite in epoch {epoch}; stopped"
                break
            row["lr"] = optimizer.param_groups[0]["lr"]
            row["train_seconds"] = round(train_seconds, 3)
            row["seconds"] = round(time.perf_counter() - t0, 3)
            # CPU time of this process (all its threads): on a shared machine it shows the
            # work done, which wall-clock seconds blur with other people's load.
            row["cpu_seconds"] = round(time.process_time() - c0, 3)
            row["images_per_s"] = round(seen / train_seconds, 1)
            history.append(row)
            if dist.is_main:
                if cfg.progress_every and (epoch % cfg.progress_every == 0 or epoch == cfg.epochs) \
                        or epoch == cfg.epochs:
                    progress.save(net, epoch, code_stats)
                save_model(rd.path, net)
                save_checkpoint(rd.path, net, optimizer, scheduler,
                                {"epoch": epoch, "history": history, "model_spec": spec,
                                 "data": asdict(data_cfg), "train": asdict(cfg)})
                _write_history(rd, history)
                trackers.on_epoch(epoch, row)   # after progress.save: its grids go along
                _print_epoch(row, cfg.epochs, net.is_variational, show_bar)
            if stop.requested:
                interrupted = True
                break

    metrics = None
    if dist.is_main and cfg.epochs == 0 and not history:  # an untrained baseline, still analysable
        save_model(rd.path, net)
    if dist.is_main:
        metrics = _finish(rd, net, history, cfg, device, threads, world, interrupted or bool(nan_msg), t_train,
                          amp)
        trackers.on_finish(rd.path, metrics)   # the Projector embedding; closes the trackers
        rd.record_timing("train", time.perf_counter() - t_start)
    if nan_msg:
        last = history[-1]["epoch"] if history else 0
        kept = (f"{rd.path} keeps the last good epoch ({last})" if last
                else "no epoch completed, so nothing was saved")
        raise UserError(f"{nan_msg}: {kept}; lower --lr or add --grad-clip 1.0 and train again")
    if interrupted:
        last = history[-1]["epoch"] if history else 0
        print(f"latentatlas: training stopped; {rd.path} holds {last} completed epoch(s); "
              f"continue with `latentatlas train --out {rd.path} --resume`", file=sys.stderr)
        raise KeyboardInterrupt
    return metrics


def _check_resume(rd, state, spec, data_cfg, cfg) -> None:
    old = state.get("model_spec") or {}
    if old != spec:
        raise UserError(f"the checkpoint in {rd.path} is a {old.get('name')!r} model with "
                        f"{_diff(old.get('config', {}), spec['config'])}; resume with the same model "
                        "settings (or leave them out to take the run's own) or train into a new --out")
    old_data = dict(state.get("data") or {})
    new_data = asdict(data_cfg)
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


def _clear_previous(rd: RunDir) -> None:
    """Starting afresh: drop the files of a previous training (and the stale latents)."""
    from .training.checkpoint import checkpoint_path

    for path in [rd / HISTORY, rd / LATENTS, checkpoint_path(rd.path)]:
        if path.exists():
            path.unlink()
    if rd.progress.is_dir():
        for f in rd.progress.glob("epoch_*.png"):
            f.unlink()


def _write_history(rd: RunDir, history: list[dict]) -> None:
    atomic_write_text(rd / HISTORY, "".join(json.dumps(h) + "\n" for h in history))


def _bar(show: bool, total: int, desc: str):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", unit_scale=True, leave=False, dynamic_ncols=True,
                file=sys.stderr)


def _print_epoch(row: dict, epochs: int, variational: bool, show: bool) -> None:
    if not show:
        return
    kl = f" (KL {row['test_kl']:.2f})" if variational else ""
    msg = (f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f}, test loss "
           f"{row['test_loss']:.4f}{kl}, test MSE {row['test_mse']:.5f}, {row['seconds']:.1f} s, "
           f"{row['images_per_s']:.0f} images/s")
    from tqdm.auto import tqdm

    tqdm.write(msg, file=sys.stderr)


def _evaluate(net, x_test, cfg, epoch, dist, device, batch: int = 1000):
    """Per-image test losses (sampled z for a VAE, seeded) and, for an AE, the codes'
    mean and std (for the progress grids). Ranks split the test set and sum."""
    import torch

    net.eval()
    torch.manual_seed(_seed(cfg.seed, epoch, dist.rank, 3))
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
    test["mse"] = s[3]
    mean = code_sum / n
    std = (code_sq / n - mean * mean).clamp_min(1e-12).sqrt()
    return test, (mean.float().cpu(), std.float().cpu())


def _finish(rd, net, history, cfg, device, threads, world, stopped, t_train, amp=False) -> dict:
    """Figures and the metrics.json "train" section."""
    from .training.progress import loss_curves, progress_gifs

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
        "seconds": round(sum(h["seconds"] for h in history), 3),
        "images_per_s": rates[len(rates) // 2] if rates else None,
        "device": str(device),
        "threads": threads,
        "precision": "bfloat16 autocast" if amp else "float32",   # of the training pass; test losses in float32
        "world_size": world,
        "batch_size": cfg.batch_size,
        "figures": figures,
    }
    rd.update_metrics("train", metrics)
    return metrics


# `la.train(...)` (latentatlas.api.train): this module is also the notebook entry point's name.
from .api import make_train_module_callable  # noqa: E402

make_train_module_callable(__name__)
