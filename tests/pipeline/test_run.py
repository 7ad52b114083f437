"""`latentatlas run`: every stage into one folder, reuse of stages done, settings precedence, bad input."""

from __future__ import annotations

import json
from dataclasses import replace
import re
from pathlib import Path

import pytest

from latentatlas.cli import build_parser, main
from latentatlas.pipeline import STAGES

TINY = """
[data]
name = "mnist-sample"

[model]
name = "vae"
latent_dim = 4

[train]
epochs = 1
batch_size = 64
max_train_images = 400
threads = 1
progress_images = 16

[analysis]
projections = ["pca:2", "pca:3"]
projection_max_samples = 600
raw_baseline = false
quality_max_samples = 300
probes = ["knn"]
clusterers = ["kmeans"]
hover_images = 50
n_jobs = 1

[generate]
samplers = ["class-gaussian"]
n_per_class = 2
judge = false
tour = false
traverse = false
steps = 4
manifold_n = 4
"""


def _stage_lines(err: str) -> dict:
    """{stage: what the console said about it} from the [i/n] lines."""
    out = {}
    for m in re.finditer(r"^\[\d/\d\] (\w+)(.*)$", err, re.MULTILINE):
        out.setdefault(m.group(1), []).append(m.group(2))
    return out


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text(TINY)
    return path


def test_run_end_to_end_then_reuse_then_partial_rerun(tmp_path, tiny_config, capsys):
    out = tmp_path / "run"
    assert main(["run", "--config", str(tiny_config), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    report = out / "report.html"
    assert report.is_file() and str(report) in captured.out  # closing summary names the report
    state = json.loads((out / "run.json").read_text())
    for stage in STAGES:  # every stage ran, and run.json says so
        assert stage in state["stages"], stage
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["epochs"] == 1
    text = report.read_text(encoding="utf-8")
    assert f"{metrics['train']['test_loss']:.2f}" in text
    # The real pipeline's report, interactive figures included, in Chromium.
    from browser_helpers import check_in_browser

    seen = check_in_browser(report, tmp_path, "report_tiny_run.png")
    assert seen["attrs"].get("data-script-errors") == "0", seen["attrs"]
    n_html = sum(1 for f in metrics["projections"]["figures"] if f["kind"] == "html")
    assert n_html >= 1 and seen["attrs"].get("data-plots-rendered") == str(n_html), seen["attrs"]

    # Same settings again: every stage but the report is reused, nothing retrained.
    weights_mtime = (out / "model.safetensors").stat().st_mtime_ns
    assert main(["run", "--config", str(tiny_config), "--out", str(out)]) == 0
    lines = _stage_lines(capsys.readouterr().err)
    for stage in STAGES:
        if stage != "report":
            assert any("reused" in s for s in lines[stage]), (stage, lines)
    assert (out / "model.safetensors").stat().st_mtime_ns == weights_mtime

    # A generation setting changed: only that stage runs again.
    changed = tmp_path / "changed.toml"
    changed.write_text(TINY.replace("n_per_class = 2", "n_per_class = 3"))
    assert main(["run", "--config", str(changed), "--out", str(out)]) == 0
    lines = _stage_lines(capsys.readouterr().err)
    assert any("reused" in s for s in lines["train"]) and any("reused" in s for s in lines["encode"])
    assert not any("reused" in s for s in lines["generate"])
    assert (out / "model.safetensors").stat().st_mtime_ns == weights_mtime

    # --force: training runs again.
    assert main(["run", "--config", str(tiny_config), "--out", str(out), "--force", "--skip", "generate,analyze"]) == 0
    lines = _stage_lines(capsys.readouterr().err)
    assert not any("reused" in s for s in lines["train"])
    assert (out / "model.safetensors").stat().st_mtime_ns != weights_mtime


def test_run_refuses_a_folder_that_is_not_a_run(tmp_path, tiny_config, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("do not touch")
    assert main(["run", "--config", str(tiny_config), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a latentatlas run" in err
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]
    assert (out / "thesis.tex").read_text() == "do not touch"


def test_run_unknown_stage_to_skip(tmp_path, tiny_config, capsys):
    assert main(["run", "--config", str(tiny_config), "--out", str(tmp_path / "r"), "--skip", "painting"]) == 2
    err = capsys.readouterr().err.strip()
    assert "painting" in err and "train" in err and len(err.splitlines()) == 1


def _config_of(argv: list[str]):
    from latentatlas.commands.run import build_config

    args = build_parser().parse_args(["run"] + argv)
    return build_config(args)


def test_options_override_the_preset_and_keep_the_rest():
    from latentatlas.settings import load_preset

    demo = load_preset("demo")
    cfg = _config_of(["--preset", "demo", "--latent-dim", "3"])
    assert cfg.model.latent_dim == 3
    assert cfg.train == demo.train and cfg.data == demo.data  # untouched sections stay the preset's
    # An option given with the value that happens to be the dataclass default still wins.
    from latentatlas.settings import TrainConfig

    default_epochs = TrainConfig().epochs
    cfg = _config_of(["--preset", "study001-vae-svm", "--epochs", str(default_epochs)])
    assert cfg.train.epochs == default_epochs != load_preset("study001-vae-svm").train.epochs


def test_demo_falls_back_to_the_sample_and_says_so(tmp_path, monkeypatch, capsys):
    """Where full MNIST cannot be found or fetched, the demo uses the embedded sample (and says so);
    an explicit --dataset never falls back."""
    from latentatlas.data import registry

    calls = []

    def no_mnist(**kw):
        calls.append(kw)
        return registry.load_dataset("mnist-sample"), "full MNIST not found; using the embedded sample"

    monkeypatch.setattr(registry, "load_dataset_or_sample", no_mnist)
    from latentatlas.pipeline import resolve_data
    from latentatlas.settings import given_tables

    args = build_parser().parse_args(["run", "--preset", "demo", "--dataset", "mnist"])
    assert given_tables(args)["data"] == {"name": "mnist"}
    cfg = _config_of(["--preset", "demo"])
    cfg = replace(cfg, data=replace(cfg.data, name="mnist"))
    found, note = resolve_data(cfg, sample_fallback=True, quiet=True)
    assert found.data.name == "mnist-sample" and "embedded sample" in note and calls
    assert cfg.data.name == "mnist"                      # the settings given are frozen, never changed
    calls.clear()
    assert resolve_data(cfg, sample_fallback=False, quiet=True) == (cfg, None) and not calls


def test_bad_dataset_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["run", "--dataset", "no-such-set", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    errors = [line for line in err.splitlines() if "error" in line]
    assert len(errors) == 1 and "no-such-set" in errors[0] and errors[0] == err.splitlines()[-1]
    assert "Traceback" not in err
    assert not out.exists()


def _stop_then_resume(tmp_path, tiny_config, monkeypatch, capsys, leave=()):
    """The first training stops (KeyboardInterrupt) leaving a config, a checkpoint and `leave`; the
    next `run` must resume it, not start again nor reuse it."""
    import latentatlas.stages.train as train_mod

    real = train_mod.train_run
    calls = []

    def stopping(run_dir, data, model, train, resume=False, overwrite=False):
        calls.append("resume" if resume else "fresh")
        if len(calls) == 1:
            from latentatlas.rundir import RunDir, atomic_write_json

            rd = RunDir(run_dir).ensure()  # what train_run leaves when stopped: config + checkpoint
            atomic_write_json(rd / "config.json", {"data": {"name": "mnist-sample"}})
            (rd / "checkpoint").mkdir()
            (rd / "checkpoint" / "last.safetensors").write_bytes(b"x")
            for name in leave:
                (rd / name).write_bytes(b"x")
            raise KeyboardInterrupt
        return real(run_dir, data, model, train, resume=False, overwrite=True)

    monkeypatch.setattr(train_mod, "train_run", stopping)
    out = tmp_path / "run"
    assert main(["run", "--config", str(tiny_config), "--out", str(out), "--skip", "analyze,generate"]) == 130
    assert (out / "run.json").is_file()
    assert main(["run", "--config", str(tiny_config), "--out", str(out), "--skip", "analyze,generate"]) == 0
    assert calls == ["fresh", "resume"]
    assert "resuming" in capsys.readouterr().err


def test_stopped_training_is_resumed_by_the_next_run(tmp_path, tiny_config, monkeypatch, capsys):
    """Ctrl-C in training (train_run saves a checkpoint and raises KeyboardInterrupt): the next
    `run` resumes it instead of starting again."""
    _stop_then_resume(tmp_path, tiny_config, monkeypatch, capsys)


def test_training_stopped_after_an_epoch_is_resumed_not_reused(tmp_path, tiny_config, monkeypatch, capsys):
    """Stopped from outside the loop after an epoch's weights, model.json and history were written
    (as a sweep's scheduler stops a trial: no "completed": false in metrics.json): a train stage
    that never finished is not done, so the next `run` resumes it."""
    from latentatlas.rundir import HISTORY, MODEL_JSON, WEIGHTS

    _stop_then_resume(tmp_path, tiny_config, monkeypatch, capsys, leave=(WEIGHTS, MODEL_JSON, HISTORY))


def test_list_presets(capsys):
    from latentatlas.settings import list_presets

    assert main(["run", "--list-presets"]) == 0
    assert capsys.readouterr().out.split() == list_presets()


def test_a_model_trained_by_the_train_command_is_reused(tmp_path, tiny_runs, capsys):
    """`latentatlas train` then `latentatlas run` with the same settings: no second training."""
    import shutil

    from latentatlas.settings import RunConfig
    from latentatlas.pipeline import run_pipeline

    out = tmp_path / "run"
    shutil.copytree(tiny_runs["ae"], out)
    written = json.loads((out / "config.json").read_text())
    cfg = RunConfig.from_dict({k: written[k] for k in ("data", "model", "train")})
    weights = (out / "model.safetensors").read_bytes()
    summary = run_pipeline(out, cfg, skip=("encode", "analyze", "generate", "report"))
    assert summary["stages"]["train"] == "reused"
    assert (out / "model.safetensors").read_bytes() == weights
    cfg = replace(cfg, train=replace(cfg.train, epochs=cfg.train.epochs + 1))  # other settings: trained again
    summary = run_pipeline(out, cfg, skip=("data", "encode", "analyze", "generate", "report"), quiet=True)
    assert summary["stages"]["train"].startswith("ran")
