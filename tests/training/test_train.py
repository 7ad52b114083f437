"""The training loop: files, determinism, resume (after SIGINT and SIGKILL), NaN, DDP, bad input."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from latentatlas.cli import main
from latentatlas.settings import DataConfig, ModelConfig, TrainConfig
from latentatlas.stages.train import TIMING_KEYS, train_run

# A small, fast network and data slice; threads=1 so that runs in different processes
# do the same float arithmetic in the same order.
SMALL_MODEL = dict(latent_dim=4, channels=[8, 16], hidden_dim=32)
SMALL_ARGS = ["--dataset", "mnist-sample", "--latent-dim", "4", "--channels", "8,16", "--hidden-dim", "32",
              "--threads", "1"]


def small(kind="vae", epochs=2, n=512, batch=64, **train):
    return (DataConfig(name="mnist-sample"), ModelConfig(name=kind, **SMALL_MODEL),
            TrainConfig(epochs=epochs, batch_size=batch, max_train_images=n, threads=1, progress_images=16,
                        **train))


def history(run) -> list[dict]:
    return [json.loads(line) for line in (Path(run) / "history.jsonl").read_text().splitlines()]


def without_timing(rows):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def weights(run) -> dict:
    from safetensors.torch import load_file

    return load_file(str(Path(run) / "model.safetensors"))


def same_weights(a, b) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def snapshot(folder) -> dict:
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- what a run folder holds ----------------------------------------------------------------

def test_tiny_runs_fixture_holds_complete_runs(tiny_runs):
    from latentatlas.models import load_model

    for kind, path in tiny_runs.items():
        for name in ("config.json", "model.json", "model.safetensors", "history.jsonl", "metrics.json",
                     "checkpoint/last.safetensors", "figures/train_loss.png",
                     "figures/train_progress_samples.gif", "progress/epoch_001_recon.png"):
            assert (path / name).is_file(), name
        config = json.loads((path / "config.json").read_text())
        assert set(config) >= {"data", "model", "train"} and config["model"]["name"] == kind
        model = load_model(path)
        assert model.is_variational == (kind == "vae")
        train = json.loads((path / "metrics.json").read_text())["train"]
        assert train["epochs"] == 1 and train["completed"] and train["device"] == "cpu"
        assert {f["path"] for f in train["figures"]} >= {"figures/train_loss.png",
                                                         "figures/train_progress_recon.gif"}
        # The stage's wall clock covers its epochs (and the set-up and evaluation around them).
        assert json.loads((path / "metrics.json").read_text())["timings"]["train"] >= sum(
            r["seconds"] for r in history(path)) > 0
        row = history(path)[0]
        assert row["test_loss"] > 0 and row["images_per_s"] > 0 and 0 < row["test_mse"] < 1
        assert ("test_kl" in row) == (kind == "vae")


def test_vae_loss_is_reconstruction_plus_kl_per_image(tmp_path):
    train_run(tmp_path / "r", *small(epochs=1))
    row = history(tmp_path / "r")[0]
    assert row["test_loss"] == pytest.approx(row["test_recon"] + row["test_kl"], rel=1e-6)
    # BCE summed over 784 pixels: an untrained-ish model sits far above 1 per image
    assert 50 < row["test_recon"] < 784


# -- seeded determinism ----------------------------------------------------------------------

def test_same_seed_same_history_and_weights(tmp_path):
    for name in ("a", "b"):
        train_run(tmp_path / name, *small(seed=5))
    train_run(tmp_path / "c", *small(seed=6))
    assert without_timing(history(tmp_path / "a")) == without_timing(history(tmp_path / "b"))
    assert same_weights(tmp_path / "a", tmp_path / "b")
    assert without_timing(history(tmp_path / "a")) != without_timing(history(tmp_path / "c"))


def test_precision_auto_follows_the_hardware_and_is_recorded(tmp_path):
    """amp="auto" (the default) trains in bfloat16 autocast exactly where the device has
    bfloat16 units, and says which in metrics.json; seeded runs stay identical either way."""
    from latentatlas.training.devices import bf16_matmul_units, resolve_amp

    cpu = torch.device("cpu")
    assert resolve_amp("auto", cpu) == bf16_matmul_units(cpu)
    assert resolve_amp(False, cpu) is False and resolve_amp(True, cpu) is True
    assert TrainConfig().amp == "auto"
    for name, amp in (("auto", "auto"), ("f32", False)):
        train_run(tmp_path / name, *small(epochs=1, amp=amp))
    precision = {n: json.loads((tmp_path / n / "metrics.json").read_text())["train"]["precision"]
                 for n in ("auto", "f32")}
    assert precision["f32"] == "float32"
    assert precision["auto"] == ("bfloat16 autocast" if bf16_matmul_units(cpu) else "float32")
    # test losses are computed in float32 whatever the training precision
    a, b = history(tmp_path / "auto")[0], history(tmp_path / "f32")[0]
    assert a["test_loss"] == pytest.approx(b["test_loss"], rel=0.05)


def test_bad_amp_value_is_one_line(tmp_path):
    from latentatlas.errors import UserError

    with pytest.raises(UserError, match='amp must be true, false or "auto"'):
        TrainConfig(amp="fast")
    cfg = tmp_path / "c.toml"
    cfg.write_text('[train]\namp = "fast"\n')
    res = subprocess.run([sys.executable, "-m", "latentatlas", "train", "--config", str(cfg), "--dataset",
                          "mnist-sample", "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "amp" in res.stderr and not (tmp_path / "x").exists()


@pytest.mark.parametrize("opt, sched", [("adamw", "cosine"), ("sgd", "onecycle"), ("rmsprop", "none"),
                                        ("muon", "onecycle")])
def test_optimizers_and_schedules_train(tmp_path, opt, sched):
    m = train_run(tmp_path / "r", *small("ae", epochs=1, n=1024, optimizer=opt, schedule=sched,
                                         weight_decay=1e-4, grad_clip=1.0, lr=1e-2 if opt == "sgd" else 2e-3))
    rows = history(tmp_path / "r")
    assert m["completed"] and len(rows) == 1 and rows[0]["test_loss"] < 784 * 0.25
    if sched != "none":  # the schedule moved the learning rate away from its peak
        assert rows[0]["lr"] < 1e-3


# -- resume ----------------------------------------------------------------------------------

def test_resume_continues_exactly(tmp_path):
    data, model, _ = small(epochs=3)
    full = TrainConfig(**{**small(epochs=3)[2].__dict__, "schedule": "none"})
    train_run(tmp_path / "full", data, model, full)
    part = TrainConfig(**{**full.__dict__, "epochs": 1})
    train_run(tmp_path / "part", data, model, part)
    train_run(tmp_path / "part", data, model, full, resume=True)
    assert without_timing(history(tmp_path / "part")) == without_timing(history(tmp_path / "full"))
    assert same_weights(tmp_path / "part", tmp_path / "full")


def test_resume_continues_exactly_with_muon(tmp_path):
    """Muon's momentum buffers and Adam's moments for the 1-D parameters travel in the checkpoint."""
    data, model, _ = small("ae", epochs=2)
    full = TrainConfig(**{**small(epochs=2)[2].__dict__, "optimizer": "muon", "schedule": "none"})
    train_run(tmp_path / "full", data, model, full)
    train_run(tmp_path / "part", data, model, TrainConfig(**{**full.__dict__, "epochs": 1}))
    train_run(tmp_path / "part", data, model, full, resume=True)
    assert without_timing(history(tmp_path / "part")) == without_timing(history(tmp_path / "full"))
    assert same_weights(tmp_path / "part", tmp_path / "full")


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """3 uninterrupted epochs (one-cycle schedule) to compare interrupted runs with."""
    path = tmp_path_factory.mktemp("reference") / "run"
    train_run(path, *small(epochs=3, n=2048, batch=32))
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_resume_after_signal_matches_uninterrupted(tmp_path, reference_run, sig):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "latentatlas", "train", *SMALL_ARGS, "--model", "vae", "--epochs", "3",
           "--batch-size", "32", "--max-train-images", "2048", "--out", str(run)]
    env = dict(os.environ, LATENTATLAS_NO_BAR="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        hist = run / "history.jsonl"
        if hist.exists() and hist.read_text().count("\n") >= 1:
            break
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    done = len(history(run))
    assert 1 <= done < 3, f"the signal came too late to interrupt the run ({done} epochs)"
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "--resume" in err and "Traceback" not in err
        assert json.loads((run / "metrics.json").read_text())["train"]["completed"] is False
    else:
        assert proc.returncode == -signal.SIGKILL
    train_run(run, *small(epochs=3, n=2048, batch=32), resume=True)
    assert without_timing(history(run)) == without_timing(history(reference_run))
    assert same_weights(run, reference_run)


def test_nan_loss_stops_and_keeps_the_last_good_epoch(tmp_path, monkeypatch):
    import latentatlas.models.base as base

    real = base.loss_function
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        out = real(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] > 12:  # epoch 1 has 8 training steps and 2 test batches
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(base, "loss_function", poisoned)
    from latentatlas.errors import UserError

    with pytest.raises(UserError, match=r"nan.*keeps the last good epoch \(1\)"):
        train_run(tmp_path / "r", *small(epochs=3))
    assert len(history(tmp_path / "r")) == 1
    from latentatlas.training.checkpoint import read_checkpoint

    model_state, _, state = read_checkpoint(tmp_path / "r")
    assert state["epoch"] == 1
    saved = weights(tmp_path / "r")
    assert all(torch.equal(saved[k], model_state[k]) and torch.isfinite(saved[k].float()).all() for k in saved)


# -- data parallel -----------------------------------------------------------------------------

def test_ddp_two_cpu_processes_match_one(tmp_path):
    """2 gloo processes, each half of every batch, against one process on whole batches.
    No BatchNorm (per-process batch statistics differ by design) and an AE (no sampling noise):
    then the two differ only by float rounding in the gradient all-reduce (in float32:
    bfloat16's 8-bit mantissa would swamp that comparison)."""
    args = [*SMALL_ARGS, "--model", "ae", "--no-batch-norm", "--epochs", "2", "--batch-size", "32",
            "--max-train-images", "512", "--no-amp"]
    env = dict(os.environ, LATENTATLAS_NO_BAR="1", GLOO_SOCKET_IFNAME=os.environ.get("GLOO_SOCKET_IFNAME", "lo"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "latentatlas", "train", *args, "--out", str(tmp_path / "ddp")]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert main(["train", *args, "--out", str(tmp_path / "one")]) == 0
    train = json.loads((tmp_path / "ddp" / "metrics.json").read_text())["train"]
    assert train["world_size"] == 2
    a, b = history(tmp_path / "ddp"), history(tmp_path / "one")
    assert len(a) == len(b) == 2
    for ra, rb in zip(a, b):
        for key in ("train_loss", "test_loss", "test_mse"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-3), key
    assert a[-1]["test_loss"] < a[0]["train_loss"]  # it learned


# -- the command line and bad input --------------------------------------------------------------

def test_presets_train_one_epoch(tmp_path, capsys):
    from latentatlas.settings import list_presets, read_preset

    presets = list_presets()
    assert {"demo", "default-ae", "default-vae", "deep-ae", "n2d", "study000-cae-lda", "study001-vae-svm", "study002-fashion-ae2",
            "study003-vae-148", "study004-ae32-sampling", "cifar10-vae", "svhn-ae"} <= set(presets)
    for name in presets:
        out = tmp_path / name
        rc = main(["train", "--preset", name, "--dataset", "mnist-sample", "--epochs", "1",
                   "--max-train-images", "128", "--batch-size", "64", "--out", str(out)])
        assert rc == 0, name
        assert len(history(out)) == 1
        # the preset's later stages travel with the run, for `analyze` / `sample` / `report` on it
        config = json.loads((out / "config.json").read_text())
        preset = read_preset(name)
        for stage in ("analysis", "generate", "study"):
            assert config.get(stage) == preset.get(stage), (name, stage)


def test_options_override_the_preset():
    import argparse

    from latentatlas.commands.train import add_parser, train_config_from_args

    sub = argparse.ArgumentParser().add_subparsers()
    p = add_parser(sub)
    data, model, train = train_config_from_args(p.parse_args(["--preset", "study003-vae-148", "--epochs", "3",
                                                              "--latent-dim", "4", "--lr", "0.01"]))
    assert data.classes == ["1", "4", "8"] and model.name == "vae" and model.beta == 0.25
    assert (model.latent_dim, train.epochs, train.lr) == (4, 3, 0.01)


def test_denoising_input_noise_corrupts_inputs_only_and_stays_seeded(tmp_path, monkeypatch):
    from latentatlas.models import ConvAE

    seen = {}
    forward, loss_fn = ConvAE.forward, ConvAE.loss_function

    def spy_forward(self, x):
        if self.training:
            seen.setdefault("inputs", x.detach().clone())
        return forward(self, x)

    def spy_loss(self, x, out):
        if self.training:
            seen.setdefault("targets", x.detach().clone())
        return loss_fn(self, x, out)

    monkeypatch.setattr(ConvAE, "forward", spy_forward)
    monkeypatch.setattr(ConvAE, "loss_function", spy_loss)
    train_run(tmp_path / "a", *small("ae", epochs=1, input_noise=0.3))
    x_in, target = seen["inputs"].float(), seen["targets"].float()
    assert float(x_in.min()) >= 0 and float(x_in.max()) <= 1                 # clipped to the pixel range
    inside = (target > 0.35) & (target < 0.65)                                # pixels the clipping spares
    assert float((x_in - target)[inside].std()) == pytest.approx(0.3, rel=0.15)
    monkeypatch.setattr(ConvAE, "forward", forward)
    monkeypatch.setattr(ConvAE, "loss_function", loss_fn)
    train_run(tmp_path / "b", *small("ae", epochs=1, input_noise=0.3))
    train_run(tmp_path / "clean", *small("ae", epochs=1))
    a, b, clean = (history(tmp_path / n)[0] for n in ("a", "b", "clean"))
    assert without_timing([a]) == without_timing([b])          # the noise is drawn from the seeded stream
    assert without_timing([a]) != without_timing([clean])


def test_new_architecture_and_vade_options_from_the_command_line(tmp_path):
    rc = main(["train", *SMALL_ARGS, "--model", "vade", "--convs-per-stage", "2", "--n-components", "3",
               "--pretrain-epochs", "1", "--epochs", "2", "--max-train-images", "256", "--input-noise", "0.1",
               "--out", str(tmp_path / "v")])
    assert rc == 0
    spec = json.loads((tmp_path / "v" / "model.json").read_text())
    assert spec["name"] == "vade"
    assert (spec["config"]["convs_per_stage"], spec["config"]["n_components"]) == (2, 3)
    rows = history(tmp_path / "v")
    assert len(rows) == 2 and all("test_kl" in r for r in rows)
    # its prior is the learned mixture, and the prior sampler draws from that
    assert main(["encode", str(tmp_path / "v")]) == 0
    assert main(["sample", str(tmp_path / "v"), "--sampler", "prior", "-n", "2"]) == 0
    gen = json.loads((tmp_path / "v" / "metrics.json").read_text())["generation"]
    assert gen["samplers"]["prior"]["description"] == "prior: the learned mixture, 3 components"
    # resuming a VaDE run whose mixture was fitted gives the uninterrupted run's history
    rc = main(["train", *SMALL_ARGS, "--model", "vade", "--convs-per-stage", "2", "--n-components", "3",
               "--pretrain-epochs", "1", "--epochs", "1", "--max-train-images", "256", "--input-noise", "0.1",
               "--schedule", "none", "--out", str(tmp_path / "p")])
    assert rc == 0
    full = tmp_path / "f"
    for out, extra in ((tmp_path / "p", ["--resume"]), (full, [])):
        assert main(["train", *SMALL_ARGS, "--model", "vade", "--convs-per-stage", "2", "--n-components", "3",
                     "--pretrain-epochs", "1", "--epochs", "3", "--max-train-images", "256", "--input-noise",
                     "0.1", "--schedule", "none", "--out", str(out), *extra]) == 0
    assert without_timing(history(tmp_path / "p")) == without_timing(history(full))
    assert same_weights(tmp_path / "p", full)


@pytest.mark.parametrize("argv, words", [
    (["--input-noise", "-0.1"], "input_noise must be >= 0"),
    (["--model", "ae", "--convs-per-stage", "0"], "convs_per_stage must be at least 1"),
    (["--model", "vade", "--n-components", "1"], "n_components must be at least 2"),
    (["--model", "ae", "--hidden-dim", "64,0"], "hidden_dim must be 0 (no hidden layer), a width, or a list"),
    (["--model", "dense-ae"], "model 'dense-ae' takes no channels"),       # SMALL_ARGS give --channels
    (["--optimizer", "lion"], "unknown optimizer 'lion'; choose from adam, adamw, rmsprop, sgd, muon"),
])
def test_bad_new_options_are_one_line(tmp_path, capsys, argv, words):
    assert words in _bad(capsys, [*SMALL_ARGS, *argv, "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_hidden_dim_that_is_not_widths_is_an_argparse_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", *SMALL_ARGS, "--hidden-dim", "64,wide", "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "argument --hidden-dim: expected a comma-separated list, got '64,wide'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_hidden_dim_list_from_the_command_line(tmp_path):
    out = tmp_path / "deep"
    assert main(["train", *SMALL_ARGS, "--model", "ae", "--hidden-dim", "32,16", "--epochs", "1",
                 "--max-train-images", "128", "--out", str(out)]) == 0
    assert json.loads((out / "model.json").read_text())["config"]["hidden_dim"] == [32, 16]


def _bad(capsys, argv, folder=None):
    before = snapshot(folder) if folder else None
    rc = main(["train", *argv])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("latentatlas: error:") and "\n" not in err and "Traceback" not in err
    if folder:
        assert snapshot(folder) == before
    return err


def test_unknown_model(tmp_path, capsys):
    err = _bad(capsys, [*SMALL_ARGS[:2], "--model", "resnet", "--out", str(tmp_path / "x")])
    assert "unknown model 'resnet'" in err and not (tmp_path / "x").exists()


def test_unknown_preset(tmp_path, capsys):
    assert "unknown preset" in _bad(capsys, ["--preset", "nope", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_latent_below_one(tmp_path, capsys):
    assert "latent size" in _bad(capsys, ["--dataset", "mnist-sample", "--latent-dim", "0",
                                          "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_negative_epochs(tmp_path, capsys):
    assert "epochs" in _bad(capsys, ["--dataset", "mnist-sample", "--epochs", "-1", "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_resume_without_checkpoint(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert "no training checkpoint" in _bad(capsys, [*SMALL_ARGS, "--resume", "--out", str(tmp_path / "empty")],
                                            tmp_path / "empty")


def _copy(tiny_runs, kind, tmp_path):
    dst = tmp_path / kind
    shutil.copytree(tiny_runs[kind], dst)
    return dst


def test_resume_with_another_architecture(tiny_runs, tmp_path, capsys):
    run = _copy(tiny_runs, "vae", tmp_path)
    err = _bad(capsys, ["--resume", "--latent-dim", "3", "--out", str(run)], run)
    assert "latent_dim=4 (asked: 3)" in err
    err = _bad(capsys, ["--resume", "--model", "ae", "--out", str(run)], run)
    assert "checkpoint" in err


def test_resume_from_truncated_checkpoint(tiny_runs, tmp_path, capsys):
    run = _copy(tiny_runs, "ae", tmp_path)
    ck = run / "checkpoint" / "last.safetensors"
    ck.write_bytes(ck.read_bytes()[:1000])
    assert "corrupt or truncated" in _bad(capsys, ["--resume", "--out", str(run)], run)


def test_training_over_an_existing_run_needs_resume_or_overwrite(tiny_runs, tmp_path, capsys):
    run = _copy(tiny_runs, "ae", tmp_path)
    assert "--resume" in _bad(capsys, ["--dataset", "mnist-sample", "--model", "ae", "--out", str(run)], run)


def test_resume_of_a_finished_run_changes_nothing_but_reports(tiny_runs, tmp_path):
    run = _copy(tiny_runs, "ae", tmp_path)
    before = history(run)
    assert main(["train", "--resume", "--out", str(run)]) == 0
    assert history(run) == before


def test_config_file_then_options(tmp_path):
    import argparse

    from latentatlas.commands.train import add_parser, train_config_from_args

    cfg = tmp_path / "my.toml"
    cfg.write_text('[data]\nname = "mnist-sample"\n[model]\nname = "ae"\nlatent_dim = 3\n'
                   '[train]\nepochs = 7\noptimizer = "sgd"\n')
    p = add_parser(argparse.ArgumentParser().add_subparsers())
    data, model, train = train_config_from_args(p.parse_args(["--config", str(cfg), "--epochs", "2"]))
    assert (data.name, model.name, model.latent_dim, train.optimizer, train.epochs) == ("mnist-sample", "ae", 3,
                                                                                          "sgd", 2)
    cfg.write_text('[model]\nlatent_dims = 3\n')
    from latentatlas.errors import UserError

    with pytest.raises(UserError, match="did you mean 'latent_dim'"):
        train_config_from_args(p.parse_args(["--config", str(cfg)]))


def test_zero_epochs_saves_the_untrained_model(tmp_path):
    from latentatlas.models import load_model

    m = train_run(tmp_path / "r", *small(epochs=0))
    assert m["epochs"] == 0 and load_model(tmp_path / "r").latent_dim == 4


# -- colour ---------------------------------------------------------------------------------------

def test_colour_npz_trains_end_to_end_with_bits_per_dim(tmp_path, capsys):
    from colour_data import write_colour_npz

    from latentatlas.models.losses import bits_per_dim
    from latentatlas.stages.report.html import render_report
    from latentatlas.rundir import RunDir

    npz = write_colour_npz(tmp_path / "colour.npz", n_train=256, n_test=128)
    out = tmp_path / "run"
    rc = main(["train", "--dataset", f"npz:{npz}", "--model", "vae", "--latent-dim", "8", "--hidden-dim", "0",
               "--loss", "mse", "--epochs", "2", "--batch-size", "64", "--threads", "1", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    spec = json.loads((out / "model.json").read_text())["config"]
    assert (spec["in_channels"], spec["image_size"], spec["channels"]) == (3, [32, 32], [32, 64, 128])
    rows = history(out)
    assert len(rows) == 2
    for row in rows:
        assert 0 < row["test_mse"] < 0.2                                   # per value: / (3 * 32 * 32)
        assert row["test_bpd"] == pytest.approx(bits_per_dim(row["test_mse"], row["test_kl"], 3 * 32 * 32))
        assert 0.25 < row["test_bpd"] < 9                                  # between a perfect fit and noise
    train = json.loads((out / "metrics.json").read_text())["train"]
    assert train["test_bpd"] == rows[-1]["test_bpd"] and train["test_mse"] == rows[-1]["test_mse"]
    assert "Gaussian" in train["bpd_likelihood"] and "log2(255)" in train["bpd_likelihood"]
    html = render_report(RunDir(out))
    assert "test bpd" in html and "bpd likelihood" in html                 # a line of the training table


def test_an_autoencoder_reports_mse_per_value_and_no_bits_per_dim(tmp_path):
    from colour_data import write_colour_npz

    npz = write_colour_npz(tmp_path / "colour.npz", n_train=128, n_test=64)
    out = tmp_path / "ae"
    train_run(out, DataConfig(name=f"npz:{npz}"), ModelConfig(name="ae", latent_dim=4, channels=[8, 16],
                                                              hidden_dim=0),
              TrainConfig(epochs=1, batch_size=64, threads=1))
    row = history(out)[0]
    assert "test_bpd" not in row and 0 < row["test_mse"] < 0.2
    train = json.loads((out / "metrics.json").read_text())["train"]
    assert "test_bpd" not in train and "bpd_likelihood" not in train


def test_resume_keeps_the_widths_of_a_run_trained_before_the_depth_rule():
    from latentatlas.training.loop import _resumed_channels

    old_spec = {"name": "vae", "config": {"image_size": [32, 32], "in_channels": 3, "channels": [32, 64]}}
    new_spec = {"name": "vae", "config": {"image_size": [32, 32], "in_channels": 3, "channels": [32, 64, 128]}}
    state = {"model_spec": old_spec}
    assert _resumed_channels(state, new_spec, ModelConfig(name="vae")) == old_spec
    asked = ModelConfig(name="vae", channels=[32, 64, 128])           # widths given: the user's, then checked
    assert _resumed_channels(state, new_spec, asked) == new_spec
