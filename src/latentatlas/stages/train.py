"""The training loop: `train_run(run_dir, data, model, train, resume=False) -> dict`.

It reads as prepare / run one epoch / evaluate / record:

    prepare      training/loop.py    check the input, write config.json, data on the device,
                                     model, optimizer, schedule, restore a checkpoint
    run_epoch    training/loop.py    one shuffled pass: forward, loss, backward, step
    evaluate     training/loop.py    test losses (and the AE codes' spread for the grids)
    record       training/record.py  history row, progress grids, checkpoint, weights,
                                     history.jsonl; figures and metrics.json at the end

Batches are sliced from one uint8 tensor held on the training device (no
per-sample DataLoader); each epoch's shuffling and sampling noise come from
seeds derived from (seed, epoch), so a run resumed from its checkpoint after
epoch k continues exactly as the uninterrupted run would have. Under `torchrun`
the same code trains data-parallel (DistributedDataParallel; gloo on CPU, NCCL
on GPU): every rank takes its slice of each global batch, so the optimiser sees
the same batch size as a single process.

Files written (through `latentatlas.rundir.RunDir`, under its lock): config.json
(data/model/train sections), model.json + model.safetensors and
checkpoint/last.safetensors (after every epoch), history.jsonl, progress/*.png,
figures/train_*.{png,gif}, metrics.json "train".
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import asdict

from ..errors import UserError
from ..rundir import RunDir, RunWriteError
from ..training.record import TIMING_KEYS  # noqa: F401  (re-exported: tests and tools compare histories)


def train_run(run_dir, data, model, train, resume: bool = False, overwrite: bool = False,
              wait: bool = False) -> dict:
    """Train `model` (ModelConfig) on `data` (DataConfig) with `train` (TrainConfig) into run_dir.

    resume: continue from checkpoint/last.safetensors (UserError if there is none, or if it
    holds another architecture or dataset). overwrite: retrain a folder that already holds a
    trained model (otherwise UserError). Holds the run folder's lock: when another process
    writes the folder, UserError naming it, or with wait=True wait for it. Returns the
    metrics.json "train" section.
    """
    from ..runtime import torch_threads_kept
    from ..training.devices import close_distributed, init_distributed, wait_for_all

    rd = RunDir(run_dir)
    dist = init_distributed(train.device)
    try:
        # Rank 0 is the only writer; it holds the lock. Input is checked under it, so two
        # commands cannot both find the folder empty and both train into it.
        with rd.lock(wait=wait, command="latentatlas train") if dist.is_main else contextlib.nullcontext(), \
                torch_threads_kept():
            result = _train(rd, data, model, train, resume, overwrite, dist)
        wait_for_all(dist)
        return result
    finally:
        close_distributed(dist)


def _train(rd: RunDir, data_cfg, model_cfg, cfg, resume, overwrite, dist) -> dict:
    t_start = time.perf_counter()
    s = _prepare(rd, data_cfg, model_cfg, cfg, resume, overwrite, dist)
    try:
        outcome = _epochs(rd, s, data_cfg, cfg, dist)
        metrics = _conclude(rd, s, cfg, dist, outcome, t_start)
    except RunWriteError as exc:
        raise exc.with_hint(_kept(rd, s)) from None
    finally:
        s.trackers.close()                # also on Ctrl-C and errors: an MLflow run is not left open
    return metrics


def _prepare(rd: RunDir, data_cfg, model_cfg, cfg, resume, overwrite, dist):
    """Check the input (before any file is written), write config.json, build the session."""
    from ..training.loop import build_session, check_input
    from ..training.progress import ProgressImages

    ds, spec, ckpt, batch = check_input(rd, data_cfg, model_cfg, cfg, resume, overwrite, dist)
    if dist.is_main:
        rd.ensure()
        if not resume:
            rd.remove_training()
        rd.update_config({"data": asdict(data_cfg), "model": asdict(model_cfg), "train": asdict(cfg)})
    s = build_session(rd, ds, model_cfg, cfg, dist, batch, spec, ckpt)
    if dist.is_main:
        if ckpt is not None:  # the checkpoint is the truth: drop history lines of a lost epoch
            rd.write_history(s.history)
        s.progress = ProgressImages(rd.path, s.net.latent_dim, s.x_test, n_points=cfg.progress_images,
                                    seed=cfg.seed)
    from ..tracking import trackers_for

    s.trackers = trackers_for(cfg, rd.path, resume=resume, main=dist.is_main)   # --tensorboard, --mlflow
    return s


def _epochs(rd: RunDir, s, data_cfg, cfg, dist) -> dict:
    """Run the remaining epochs; {"interrupted": bool, "nan_msg": str | None, "oom_msg": ...}.
    A GPU that runs out of memory in a training step ends the run like a NaN: the last
    complete epoch stays on disk and one line says what to change."""
    import torch

    try:
        return _epoch_loop(rd, s, data_cfg, cfg, dist)
    except torch.OutOfMemoryError:
        s.model = s.compiled = None   # drop the step's graphs before the figures are drawn
        from ..training.loop import free_cuda_cache

        free_cuda_cache(s.device)
        return {"interrupted": False, "nan_msg": None,
                "oom_msg": f"{s.device} ran out of memory training at batch size {s.batch}"}


def _epoch_loop(rd: RunDir, s, data_cfg, cfg, dist) -> dict:
    from ..training.loop import StopFlag, evaluate_fitting, run_epoch
    from ..training.record import history_row, record_epoch

    with StopFlag(enabled=not dist.enabled) as stop:
        for epoch in range(s.start_epoch + 1, cfg.epochs + 1):
            clock = {"t0": time.perf_counter(), "c0": time.process_time()}
            sums = run_epoch(s, cfg, epoch, dist, stop)
            if sums.nan_msg or sums.stopped or stop.requested:
                return {"interrupted": not sums.nan_msg, "nan_msg": sums.nan_msg}
            clock["train_seconds"] = time.perf_counter() - clock["t0"]
            test, code_stats = evaluate_fitting(s, cfg, epoch, dist)
            row = history_row(s, epoch, sums, test, clock)
            if row is None:
                return {"interrupted": False, "nan_msg": f"the loss became NaN or infinite in epoch {epoch}; stopped"}
            s.history.append(row)
            if dist.is_main:
                record_epoch(rd, s, cfg, data_cfg, epoch, code_stats)
                s.trackers.on_epoch(epoch, row)   # after the progress grids: they go along
            if stop.requested:
                return {"interrupted": True, "nan_msg": None}
    return {"interrupted": False, "nan_msg": None}


def _conclude(rd: RunDir, s, cfg, dist, outcome: dict, t_start: float) -> dict | None:
    """Figures and metrics (rank 0); then the one-line error (NaN) or the stop notice (Ctrl-C)."""
    from ..models import save_model
    from ..training.record import finish

    metrics = None
    nan_msg, interrupted, oom_msg = outcome["nan_msg"], outcome["interrupted"], outcome.get("oom_msg")
    if dist.is_main:
        # An untrained baseline (epochs 0) is still analysable; a run whose weights failed to be
        # written after its last checkpoint, resumed with no epoch left, gets them from it.
        nothing_left = s.saved_epoch and s.start_epoch == s.saved_epoch >= cfg.epochs
        if (cfg.epochs == 0 and not s.history) or (nothing_left and not rd.has_model()):
            save_model(rd.path, s.net)
        metrics = finish(rd, s, cfg, dist.world_size, interrupted or bool(nan_msg or oom_msg))
        rd.record_timing("train", time.perf_counter() - t_start)
        s.trackers.on_finish(rd.path, metrics)   # the Projector embedding
    last = s.history[-1]["epoch"] if s.history else 0
    kept = (f"{rd.path} keeps the last good epoch ({last})" if last
            else "no epoch completed, so nothing was saved")
    if nan_msg:
        raise UserError(f"{nan_msg}: {kept}; lower --lr or add --grad-clip 1.0 and train again")
    if oom_msg:
        # not --resume: the schedule's length in steps is fixed by the batch size
        again = "train again with --overwrite" if last else "train again"
        raise UserError(f"{oom_msg}: {kept}; lower --batch-size (now {s.batch}) and {again}, "
                        "or train on --device cpu")
    if interrupted:
        print(f"latentatlas: training stopped; {rd.path} holds {last} completed epoch(s); "
              f"continue with `latentatlas train --out {rd.path} --resume`", file=sys.stderr)
        raise KeyboardInterrupt
    return metrics


def _kept(rd: RunDir, s) -> str:
    """After a failed write: what the folder still holds, and how to go on."""
    if s.saved_epoch:
        return (f"{rd.path} keeps epoch {s.saved_epoch}; then continue with "
                f"`latentatlas train --out {rd.path} --resume`")
    return f"no epoch was saved; then train again into {rd.path}"
