"""The Python entry point: `import latentatlas as la`, la.train / la.open_run / la.run, a Run's
methods, figures and summary shown inline, and the CLI's setting names and one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

import latentatlas as la
from latentatlas.api import settings_tables
from latentatlas.settings import SECTIONS


def test_import_and_the_entry_points_stay_light():
    """`import latentatlas as la` and looking up its names import no heavy library."""
    code = ("import sys, latentatlas as la\n"
            "assert callable(la.train) and la.open_run and la.Run and la.run\n"
            "print([m for m in ('torch', 'numpy', 'sklearn', 'matplotlib', 'scipy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_la_train_is_the_api_function_once_the_training_stage_is_imported():
    import latentatlas.api as api
    import latentatlas.stages.train as loop

    assert la.train is api.train and loop.train_run and la.train is not loop   # a plain function, no module swap


@pytest.mark.parametrize("kwargs, message", [
    ({"latnet_dim": 10}, "unknown setting 'latnet_dim' (did you mean 'latent_dim'?)"),
    ({"name": "vae"}, "setting 'name' belongs to several stages; say which: dataset, model"),
    ({"epochs": "many"}, "settings: train.epochs = 'many' has the wrong type; expected an integer"),
])
def test_a_wrong_setting_is_one_line_and_shows_as_one_line_in_a_notebook(kwargs, message, tmp_path):
    with pytest.raises(la.UserError) as exc:
        la.train(out=tmp_path / "r", **kwargs)
    assert str(exc.value) == message
    assert exc.value._render_traceback_() == [f"latentatlas: error: {message}"]
    assert not (tmp_path / "r").exists()


def test_keywords_are_the_field_names_and_the_run_options():
    tables = settings_tables({"dataset": "mnist-sample", "model": "ae", "latent_dim": 3, "seed": 2,
                              "analysis_seed": 5, "generate_seed": 7, "projections": "pca:2,umap:2",
                              "classes": [1, 4], "components": 3, "n_components": 4, "raw_baseline": False,
                              "samplers": "gmm"}, SECTIONS)
    assert tables == {"data": {"name": "mnist-sample", "classes": ["1", "4"]},
                      "model": {"name": "ae", "latent_dim": 3, "n_components": 4},
                      "train": {"seed": 2},
                      "analysis": {"seed": 5, "projections": ["pca:2", "umap:2"], "raw_baseline": False},
                      "generate": {"seed": 7, "n_components": 3, "samplers": ["gmm"]}}
    # within one stage (run.analyze / run.sample) the stage's own spelling: seed is that stage's
    assert settings_tables({"seed": 3, "n_per_class": 2}, ("generate",), own=True) == \
        {"generate": {"seed": 3, "n_per_class": 2}}


def test_same_configuration_as_the_cli(tmp_path):
    """la's keywords and `latentatlas run`'s options make the same RunConfig from the same preset."""
    from latentatlas.api import _config
    from latentatlas.cli import build_parser
    from latentatlas.commands.run import build_config

    args = build_parser().parse_args(["run", "--preset", "demo", "--dataset", "mnist-sample", "--latent-dim", "3",
                                      "--analysis-seed", "5", "--projections", "pca:2", "--no-raw",
                                      "--sampler", "gmm", "--tensorboard"])
    cli = build_config(args).to_dict()
    ours = _config({"dataset": "mnist-sample", "latent_dim": 3, "analysis_seed": 5, "projections": "pca:2",
                    "raw_baseline": False, "sampler": "gmm", "tensorboard": True}, "demo", None, SECTIONS).to_dict()
    assert ours == cli


def test_train_then_the_stages_from_python(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTATLAS_NO_BAR", "1")
    run = la.train(dataset="mnist-sample", model="ae", latent_dim=4, epochs=1, max_train_images=256, threads=1,
                   out=tmp_path / "r", projections="pca:2", probes="logreg", clusterers="none", raw_baseline=False,
                   interactive=False, quality_max_samples=200)
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["model"]["latent_dim"] == 4 and config["analysis"]["projections"] == ["pca:2"]
    assert run.metrics["train"]["completed"] and len(run.history) == 1
    run.encode().analyze(verbose=False)
    assert set(run.metrics["probes"]) >= {"logreg"} and "projections" in run.metrics
    assert "clustering" not in run.metrics                          # the settings given to train
    assert run.codes("test").shape == (2000, 4) and run.labels("test").shape == (2000,)
    with pytest.raises(la.UserError, match="unknown setting 'probe' \\(did you mean 'probes'\\?\\)"):
        run.analyze(probe="svm")
    again = la.open_run(tmp_path / "r")
    assert again.metrics == run.metrics and again.config == run.config


def test_figures_and_the_summary_display_inline(tiny_runs, tmp_path):
    path = tmp_path / "ae"
    shutil.copytree(tiny_runs["ae"], path)
    run = la.open_run(path)
    assert "not written yet" in run._repr_html_()
    run.report()
    summary = run._repr_html_()
    assert str(path) in summary and "report.html" in summary and "trained 1/1 epochs" in summary
    png = run.figure("train_loss")
    assert png._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n" and "data:image/png;base64," in png._repr_html_()
    assert "data:image/gif;base64," in run.figure("train_progress_samples.gif")._repr_html_()
    with pytest.raises(la.UserError, match="no figure 'train_los' \\(did you mean 'train_loss'\\?\\)"):
        run.figure("train_los")
    with pytest.raises(la.UserError, match="is not a latentatlas run"):
        la.open_run(tmp_path)


def test_la_run_is_latentatlas_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTATLAS_NO_BAR", "1")
    run = la.run(preset="demo", dataset="mnist-sample", epochs=1, max_train_images=256, threads=1,
                 skip=("analyze", "generate"), quiet=True, out=tmp_path / "demo")
    assert isinstance(run, la.Run) and run.report_path.is_file()
    state = json.loads((tmp_path / "demo" / "run.json").read_text())
    assert state["preset"] == "demo" and set(state["stages"]) == {"train", "data", "encode", "report"}
    assert run.config["analysis"]["projection_max_samples"] == 5000        # the preset's, kept
    with pytest.raises(la.UserError, match="unknown preset 'dmeo'"):
        la.run(preset="dmeo", out=tmp_path / "x")
