"""The GPU speed paths of training, run on the CPU: lr scaling with the batch, torch.compile
and its fallback, the lagged loss watch, evaluation batches, and the faults (--device cuda
without CUDA, a GPU out of memory)."""

import json
import math
from pathlib import Path

import pytest
import torch
from test_train import SMALL_ARGS, history, same_weights, small, without_timing

from latentatlas.cli import main
from latentatlas.errors import UserError
from latentatlas.settings import TrainConfig
from latentatlas.stages.train import train_run

ROOT = Path(__file__).resolve().parents[2]


# -- the learning rate for a batch size --------------------------------------------------------

def test_scaled_lr_rules():
    from latentatlas.training.speed import scaled_lr

    assert scaled_lr(2e-3, 512, "none") == 2e-3
    assert scaled_lr(2e-3, 512, "sqrt") == pytest.approx(2e-3 * math.sqrt(8))
    assert scaled_lr(2e-3, 512, "linear") == pytest.approx(16e-3)
    assert scaled_lr(2e-3, 64, "sqrt") == pytest.approx(2e-3)
    assert TrainConfig().lr_scaling == "none"          # today's figures stay as they are
    with pytest.raises(UserError, match="lr_scaling 'cube'"):
        TrainConfig(lr_scaling="cube")


def test_lr_scaling_sets_the_optimizers_rate(tmp_path):
    """Without a schedule the history's lr is the scaled rate itself (batch 128 = 2 x 64)."""
    train_run(tmp_path / "r", *small("ae", epochs=1, batch=128, schedule="none", lr=1e-3, lr_scaling="sqrt"))
    assert history(tmp_path / "r")[0]["lr"] == pytest.approx(1e-3 * math.sqrt(2))
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())["train"]
    assert cfg["lr"] == 1e-3 and cfg["lr_scaling"] == "sqrt"   # config.json keeps what was asked


# -- compilation -------------------------------------------------------------------------------

def test_compile_choices_per_device():
    from latentatlas.training.speed import compile_mode

    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert compile_mode("auto", cpu) is None and compile_mode("none", cuda) is None
    assert compile_mode("auto", cuda) == {"mode": "reduce-overhead", "dynamic": False}
    assert compile_mode("cudagraphs", cuda)["mode"] == "reduce-overhead"
    assert compile_mode("compile", cpu) == {"dynamic": False}
    assert TrainConfig().compile == "auto"
    with pytest.raises(UserError, match="compile 'jit'"):
        TrainConfig(compile="jit")


class _FailsInBackward(torch.autograd.Function):
    """Stands for Inductor failing to compile the backward graph (it does so at the first backward)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("backward compilation failed\nsecond line of the compiler's complaint")


@pytest.mark.parametrize("where", ["forward", "backward"])
def test_failed_compilation_warns_once_and_trains_eagerly(tmp_path, monkeypatch, capsys, where):
    """A compiler that fails on the first step: one warning line, then exactly the eager run."""
    calls = {"n": 0}

    def broken_compile(fn, **kwargs):
        def run(x_in, xb):
            calls["n"] += 1
            if where == "forward":
                raise RuntimeError("no C++ compiler found\nsecond line of the compiler's complaint")
            parts = dict(fn(x_in, xb))          # the eager step (an AE: no random numbers drawn)
            parts["loss"] = _FailsInBackward.apply(parts["loss"])
            return parts
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    train_run(tmp_path / "c", *small("ae", epochs=1, compile="compile"))
    err = capsys.readouterr().err
    assert calls["n"] == 1
    assert json.loads((tmp_path / "c" / "metrics.json").read_text())["train"]["step"] == "eager (compilation failed)"
    assert err.count("warning: compiling the training step failed") == 1 and "second line" not in err
    train_run(tmp_path / "e", *small("ae", epochs=1, compile="none"))
    assert without_timing(history(tmp_path / "c")) == without_timing(history(tmp_path / "e"))
    assert same_weights(tmp_path / "c", tmp_path / "e")


def test_compiled_step_matches_eager_on_cpu(tmp_path):
    """torch.compile (Inductor, on the CPU) trains the same AE as eager within float tolerance."""
    for name, choice in (("eager", "none"), ("compiled", "compile")):
        train_run(tmp_path / name, *small("ae", epochs=2, n=256, compile=choice, amp=False))
    steps = {n: json.loads((tmp_path / n / "metrics.json").read_text())["train"]["step"] for n in ("eager", "compiled")}
    assert steps == {"eager": "eager", "compiled": "torch.compile"}      # it compiled, no fallback
    a, b = history(tmp_path / "eager"), history(tmp_path / "compiled")
    for ra, rb in zip(a, b):
        for key in ("train_loss", "test_loss", "test_mse"):
            assert rb[key] == pytest.approx(ra[key], rel=2e-3), key


# -- reading the loss without stalling the GPU -------------------------------------------------

def test_lagged_loss_watch_returns_the_previous_look():
    from latentatlas.training.speed import LossWatch

    w = LossWatch(torch.device("cpu"), lagged=True)
    total = torch.tensor(10.0, dtype=torch.float64)
    assert w.look(total, 5, 9) is None                       # nothing copied before
    assert w.look(total * 3, 10, 19) == (2.0, 9)             # the copy of the first look
    assert w.last(total * 3, 10, 29) == (3.0, 29)            # the epoch's end reads at once
    assert LossWatch(torch.device("cpu")).look(total, 5, 9) == (2.0, 9)


def test_lagged_watch_gives_the_same_run_and_still_stops_on_nan(tmp_path, monkeypatch):
    """The CUDA way of watching the loss (lagged copies, a look every 3 steps), forced on the
    CPU: the same history as the default; a NaN still ends in the same one-line error."""
    from latentatlas.models import base
    from latentatlas.training import speed

    train_run(tmp_path / "plain", *small(epochs=2))
    real_watch = speed.LossWatch
    monkeypatch.setattr(speed, "LossWatch", lambda device: real_watch(device, lagged=True))
    monkeypatch.setattr(speed, "look_every", lambda device: 3)
    train_run(tmp_path / "lagged", *small(epochs=2))
    assert without_timing(history(tmp_path / "plain")) == without_timing(history(tmp_path / "lagged"))

    real, calls = base.loss_function, {"n": 0}

    def poisoned(*args, **kwargs):
        out = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] > 12:  # epoch 1: 8 training steps and 2 test batches
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(base, "loss_function", poisoned)
    with pytest.raises(UserError, match=r"training loss became nan in epoch 2 \(step \d\).*last good epoch \(1\)"):
        train_run(tmp_path / "nan", *small(epochs=3))
    assert len(history(tmp_path / "nan")) == 1


def test_tracker_points_are_flushed_with_the_lagged_watch(tmp_path, monkeypatch):
    """Per-step tracker values (every 10 steps) arrive unchanged even when the host reads them
    only at the end of the epoch (the lagged watch with no look before it)."""
    from latentatlas import tracking
    from latentatlas.training import speed

    class Recorder:
        def __init__(self):
            self.steps = []

        def on_step(self, step, losses, lr):
            self.steps.append((step, losses, lr))

        def on_epoch(self, epoch, row):
            pass

        def on_finish(self, run_dir, metrics):
            pass

        def close(self):
            pass

    made = []
    monkeypatch.setattr(tracking, "trackers_for", lambda *a, **k: made.append(Recorder()) or made[-1])
    train_run(tmp_path / "plain", *small(epochs=1, n=1280))
    real_watch = speed.LossWatch
    monkeypatch.setattr(speed, "LossWatch", lambda device: real_watch(device, lagged=True))
    monkeypatch.setattr(speed, "look_every", lambda device: 1000)
    train_run(tmp_path / "lagged", *small(epochs=1, n=1280))
    assert [p[0] for p in made[0].steps] == [10, 20]
    assert made[0].steps == made[1].steps


# -- evaluation --------------------------------------------------------------------------------

def test_evaluation_batch_is_halved_when_memory_runs_out(tmp_path, monkeypatch):
    from latentatlas.training import loop

    real, asked = loop.evaluate, []

    def tight(net, x_test, cfg, epoch, dist, device, batch=1000):
        asked.append(batch)
        if batch > 250:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(net, x_test, cfg, epoch, dist, device, batch=batch)

    monkeypatch.setattr(loop, "evaluate", tight)
    m = train_run(tmp_path / "r", *small(epochs=2))
    assert m["completed"] and asked == [1000, 500, 250, 250]   # halved once, then kept
    monkeypatch.setattr(loop, "evaluate", real)
    train_run(tmp_path / "ref", *small(epochs=2))
    for a, b in zip(history(tmp_path / "r"), history(tmp_path / "ref")):
        assert a["train_loss"] == b["train_loss"]
        assert a["test_loss"] == pytest.approx(b["test_loss"], rel=0.02)   # other noise draws of z


def test_evaluation_batch_per_device():
    from latentatlas.training.speed import eval_batch

    assert eval_batch(torch.device("cpu")) == 1000          # today's arithmetic on a CPU
    assert eval_batch(torch.device("cuda", 0)) >= 10000     # the MNIST test split at once


# -- faults ------------------------------------------------------------------------------------

def _one_line_error(capsys, argv) -> str:
    rc = main(["train", *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("latentatlas: error:") and "\n" not in err and "Traceback" not in err, err
    return err


def test_device_cuda_without_a_gpu_is_one_line_naming_what_there_is(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    err = _one_line_error(capsys, [*SMALL_ARGS, "--device", "cuda", "--out", str(tmp_path / "x")])
    assert "--device cuda" in err and "available here: " in err and "cpu" in err
    assert not (tmp_path / "x").exists()                     # nothing written


def test_gpu_out_of_memory_in_training_is_one_line_and_keeps_the_last_epoch(tmp_path, capsys, monkeypatch):
    from latentatlas.training import loop
    from latentatlas.training.checkpoint import read_checkpoint

    real, calls = loop._train_step, {"n": 0}

    def step(*args):
        calls["n"] += 1
        if calls["n"] > 8 + 3:     # epoch 1 has 8 steps; fail in epoch 2
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(*args)

    monkeypatch.setattr(loop, "_train_step", step)
    monkeypatch.setenv("LATENTATLAS_NO_BAR", "1")       # no per-epoch lines: stderr is the error alone
    out = tmp_path / "r"
    err = _one_line_error(capsys, [*SMALL_ARGS, "--epochs", "3", "--max-train-images", "512", "--out", str(out)])
    assert "ran out of memory" in err and "lower --batch-size (now 64)" in err and "epoch (1)" in err
    assert len(history(out)) == 1 and read_checkpoint(out)[2]["epoch"] == 1
    train = json.loads((out / "metrics.json").read_text())["train"]
    assert train["completed"] is False and train["epochs"] == 1


def test_gpu_out_of_memory_for_the_data_is_one_line(tmp_path, capsys, monkeypatch):
    from latentatlas.training import loop

    def no_room(*args):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(loop, "images_on_device", no_room)
    err = _one_line_error(capsys, [*SMALL_ARGS, "--out", str(tmp_path / "x")])
    assert "does not fit in the memory" in err and "--max-train-images" in err


# -- the GPU check script, on the CPU ----------------------------------------------------------

# -- run folders written before these settings -------------------------------------------------

def test_new_settings_at_their_defaults_keep_old_runs_fingerprints(tmp_path, monkeypatch):
    """`latentatlas run` must reuse a folder trained before compile / lr_scaling existed."""
    from dataclasses import replace

    from latentatlas import pipeline
    from latentatlas.rundir import RunDir
    from latentatlas.settings import RunConfig

    run, cfg = RunDir(tmp_path), RunConfig()
    now = pipeline.fingerprint(run, "train", cfg)
    scaled = pipeline.fingerprint(run, "train", replace(cfg, train=replace(cfg.train, lr_scaling="sqrt")))
    real = RunConfig.section_dict

    def as_written_before(self, section):
        d = real(self, section)
        if section == "train":
            del d["compile"], d["lr_scaling"]
        return d

    monkeypatch.setattr(RunConfig, "section_dict", as_written_before)
    assert pipeline.fingerprint(run, "train", cfg) == now != scaled


def test_gpu_vae_preset_is_the_default_vae_at_batch_128_with_sqrt_scaling():
    from latentatlas.settings.files import read_preset

    gpu, default = read_preset("gpu-vae"), read_preset("default-vae")
    assert gpu["train"]["batch_size"] == 128 and gpu["train"]["lr_scaling"] == "sqrt"
    assert gpu["model"] == default["model"] and gpu["data"] == default["data"]
    assert default["train"]["batch_size"] == 64            # the reference batch of lr_scaling
    rest = ("batch_size", "lr_scaling")
    assert {k: v for k, v in gpu["train"].items() if k not in rest} == \
        {k: v for k, v in default["train"].items() if k not in rest}
