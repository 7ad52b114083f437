"""The generation stage end to end on tiny runs: sections, figures, commands, bad input."""

import argparse
import json
import shutil
import time

import numpy as np
import pytest
from cache_helpers import session_cache_dir
from PIL import Image

from latentatlas.cli import main
from latentatlas.settings import GenerateConfig
from latentatlas.errors import UserError
from latentatlas.data.subset import class_index
from latentatlas.stages.encode import open_encoded as open_run
from latentatlas.stages.generate import generate_run


@pytest.fixture(scope="module")
def seeded_judge(tmp_path_factory):
    """Train the mnist-sample judge once, briefly (1 epoch), into the session cache the
    autouse fixture points at; the stage then finds it cached, as a second run would."""
    from latentatlas.data import load_dataset
    from latentatlas.stages.judge_store import load_or_train_judge

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENTATLAS_CACHE", str(session_cache_dir(tmp_path_factory)))
        return load_or_train_judge(load_dataset("mnist-sample"), epochs=1, progress=False)


@pytest.fixture
def ae_run(tiny_runs, tmp_path):
    path = tmp_path / "ae"
    shutil.copytree(tiny_runs["ae"], path)
    return path


@pytest.fixture
def vae_run(tiny_runs, tmp_path):
    path = tmp_path / "vae"
    shutil.copytree(tiny_runs["vae"], path)
    return path


SMALL = dict(n_per_class=3, n_judge=400, steps=5, n_components=4)


def figure_files_ok(run, section):
    for fig in section["figures"]:
        path = run / fig["path"]
        assert path.exists(), fig
        assert fig["kind"] in ("png", "gif") and path.suffix == "." + fig["kind"]
        assert fig["title"] and fig["caption"]
        with Image.open(path) as im:
            assert im.size[0] > 20 and im.size[1] > 20
            if fig["kind"] == "gif":
                assert im.n_frames > 3


def test_generate_run_on_an_autoencoder(ae_run, seeded_judge):
    t0 = time.perf_counter()
    out = generate_run(ae_run, GenerateConfig(**SMALL), progress=False)
    elapsed = time.perf_counter() - t0
    metrics = json.loads((ae_run / "metrics.json").read_text())
    for section in ("generation", "judge", "interpolation"):
        assert metrics[section] == json.loads(json.dumps(out[section]))
        figure_files_ok(ae_run, metrics[section])
    # The stage's own wall clock: inside the call we timed, and most of it.
    assert 0.5 * elapsed < metrics["timings"]["generate"] <= elapsed + 1e-3
    assert set(metrics["generation"]["samplers"]) == {"gaussian", "class-gaussian", "gmm"}   # no prior on an AE

    judge = metrics["judge"]
    assert judge["judge"]["cached"] and judge["judge"]["test_accuracy"] == seeded_judge.test_accuracy
    cg = judge["samplers"]["class-gaussian"]
    assert 0.0 <= cg["fidelity"] <= 1.0 and set(cg["per_class"]) == set(map(str, range(10)))
    assert sum(cg["label_histogram"].values()) == cg["n"] == 400
    for rep in judge["samplers"].values():
        # Real images are closer to real images than anything a 1-epoch autoencoder makes.
        assert rep["fd"] > judge["fd_floor_train_vs_test"] >= 0
    assert "fidelity" in judge["samplers"]["gmm"]                    # via each component's majority class

    interp = metrics["interpolation"]
    assert len(interp["walks"]) == 2                                 # closest and farthest pair of class means
    assert "tour" in interp and len(interp["traversal"]["dims"]) == 8 and "manifold" not in interp
    with Image.open(ae_run / interp["walks"][0]["png"]) as strip:
        assert strip.size[0] > 2 * strip.size[1]                     # a strip: one row of `steps` images


def test_generate_run_on_a_vae_includes_the_prior(vae_run):
    out = generate_run(vae_run, GenerateConfig(judge=False, tour=False, traverse=False, **SMALL), progress=False)
    assert list(out["generation"]["samplers"]) == ["prior", "gaussian", "class-gaussian", "gmm"]
    assert "judge" not in json.loads((vae_run / "metrics.json").read_text())
    assert "tour" not in out["interpolation"] and "traversal" not in out["interpolation"]


def test_two_dimensional_latent_gets_a_manifold_grid(tmp_path):
    from latentatlas.models import build_model, save_model
    from latentatlas.rundir import atomic_write_json

    run = tmp_path / "ae2"
    save_model(run, build_model({"name": "ae", "config": {"latent_dim": 2}}))   # untrained is enough here
    atomic_write_json(run / "config.json", {"data": {"name": "mnist-sample"}})
    out = generate_run(run, GenerateConfig(judge=False, samplers=["gaussian"], manifold_n=5, **SMALL),
                       progress=False)
    m = out["interpolation"]["manifold"]
    assert m["n"] == 5 and (run / m["png"]).exists()
    codes = np.load(run / "latents.npz")["train_mean"]
    lo, hi = np.percentile(codes, [1, 99], axis=0)
    np.testing.assert_allclose(m["x_range"], [lo[0], hi[0]], rtol=1e-6)


def painted_run(path, logits, image_side: int = 12):
    """A run whose untrained 2-d AE decodes every code to one flat colour: its output layer
    gets zero weights and a bias of `logits` (one per channel; +-30 -> 1 or 0 after the
    sigmoid, 0 -> 0.5), beside latents.npz for three classes. No dataset is read (no judge)."""
    import torch

    from latentatlas.models import build_model, save_model
    from latentatlas.rundir import atomic_write_json

    model = build_model({"name": "ae", "config": {"latent_dim": 2, "in_channels": len(logits),
                                                  "image_size": [image_side, image_side]}})
    out = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
    with torch.no_grad():
        out.weight.zero_()
        out.bias.copy_(torch.tensor(logits, dtype=torch.float32))
    save_model(path, model)
    codes = np.random.default_rng(0).normal(size=(60, 2))
    labels = np.arange(60) % 3
    np.savez(path / "latents.npz", train_mean=codes, test_mean=codes[:30], train_labels=labels,
             test_labels=labels[:30], class_names=np.array(["a", "b", "c"]), kind=np.array("ae"))
    atomic_write_json(path / "config.json", {"data": {"name": "mnist-sample"}})
    return path


def figure_pixels(run, fig) -> list[np.ndarray]:
    """A figure's pixels as (H, W, 3) int arrays: one for a PNG, one per frame for a GIF."""
    from PIL import ImageSequence

    with Image.open(run / fig["path"]) as im:
        return [np.asarray(f.convert("RGB")).astype(np.int64) for f in ImageSequence.Iterator(im)]


def test_generated_figures_of_a_colour_model_are_in_colour(tmp_path):
    """Samples, class means, walks, the tour, traversals and the manifold of a model that decodes
    pure red: every image figure shows pure red pixels, many of them, in every GIF frame."""
    run = painted_run(tmp_path / "red", [30.0, -30.0, -30.0])
    cfg = GenerateConfig(judge=False, samplers=["gaussian", "class-gaussian"], manifold_n=3, steps=4, n_per_class=2)
    out = generate_run(run, cfg, progress=False)
    figures = out["generation"]["figures"] + out["interpolation"]["figures"]
    names = " ".join(f["path"] for f in figures)
    for part in ("generation_gaussian.png", "generation_class_gaussian.png", "interpolation_class_means.png",
                 "interpolation_walk_", ".gif", "interpolation_tour.gif", "interpolation_traversal.png",
                 "interpolation_manifold.png"):
        assert part in names
    for fig in figures:
        if "heatmap" in fig["path"]:
            continue
        frames = figure_pixels(run, fig)
        for a in frames:
            red = int((a == [255, 0, 0]).all(-1).sum())
            assert red >= 12 * 12, fig["path"]             # at least one 12 x 12 image, not shrunk
        if fig["kind"] == "gif":
            assert tuple(frames[0][24, 24]) == (255, 0, 0)   # inside the first image (scale 4)


def test_generated_figures_of_a_grey_model_stay_grey(tmp_path):
    run = painted_run(tmp_path / "grey", [0.0])            # sigmoid(0): mid grey
    out = generate_run(run, GenerateConfig(judge=False, samplers=["gaussian"], manifold_n=3, steps=4,
                                           n_per_class=2), progress=False)
    for fig in out["generation"]["figures"] + out["interpolation"]["figures"]:
        if "heatmap" in fig["path"]:
            continue
        for a in figure_pixels(run, fig):
            assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all(), fig["path"]
            assert int((a == 128).all(-1).sum()) >= 12 * 12, fig["path"]   # the decoded 0.5, drawn


def test_class_index_by_name_or_label():
    names = ["T-shirt/top", "Trouser", "Bag"]
    assert class_index("trouser", names) == 1
    assert class_index("2", names) == 2
    assert class_index(0, names) == 0
    with pytest.raises(UserError, match="unknown class 'Sock'"):
        class_index("Sock", names)
    with pytest.raises(UserError, match="unknown class '3'"):
        class_index("3", names)


# --------------------------------------------------------------------------- commands
def test_sample_interpolate_judge_commands(ae_run, seeded_judge, capsys):
    assert main(["sample", str(ae_run), "--sampler", "class-gaussian", "-n", "4", "--classes", "3", "8"]) == 0
    out = capsys.readouterr().out
    assert "generation_class_gaussian.png" in out
    gen = json.loads((ae_run / "metrics.json").read_text())["generation"]
    assert gen["samplers"]["class-gaussian"]["classes"] == ["3", "8"]

    assert main(["interpolate", str(ae_run), "--from", "3", "--to", "8", "--steps", "6", "--no-tour"]) == 0
    out = capsys.readouterr().out
    assert "walk mean of 3 -> mean of 8" in out and "tour" not in out
    assert main(["interpolate", str(ae_run), "--from-index", "0", "--to-index", "5", "--no-traverse"]) == 0
    interp = json.loads((ae_run / "metrics.json").read_text())["interpolation"]
    assert interp["walks"][0]["label"].startswith("test image 0") and "traversal" not in interp

    assert main(["judge", str(ae_run), "--sampler", "gaussian", "gmm", "--n-judge", "300"]) == 0
    out = capsys.readouterr().out
    assert "judge: test accuracy" in out and "floor" in out and "Gaussian mixture" in out

    assert main(["judge", "--dataset", "mnist-sample"]) == 0
    assert "loaded from the cache" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["sample", "{run}", "--sampler", "class-gaussian", "--classes", "11"], "unknown class '11'"),
    (["sample", "{run}", "--sampler", "class-gaussian", "--classes", "seven"], "unknown class 'seven'"),
    (["sample", "{run}", "-n", "0"], "positive whole number"),
    (["sample", "{run}", "-n", "-5"], "positive whole number"),
    (["sample", "{run}", "--components", "0"], "positive whole number"),
    (["sample", "{run}", "--sampler", "prior"], "needs a VAE"),
    (["interpolate", "{run}", "--from-index", "0", "--to-index", "2000"], "out of range"),
    (["interpolate", "{run}", "--from-index", "-1", "--to-index", "3"], "out of range"),
    (["interpolate", "{run}", "--from", "3", "--to", "12"], "unknown class '12'"),
    (["interpolate", "{run}", "--from", "3"], "give both --from"),
    (["interpolate", "{run}", "--steps", "1"], "at least 2"),
    (["judge"], "give a RUN_DIR"),
    (["sample", "{run}/nothing-here"], "does not exist"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(ae_run, capsys, argv, message):
    open_run(ae_run)                                                 # encode first: latents.npz is the encode stage's
    capsys.readouterr()                                              # (its progress bar is not the command's)
    before = sorted(p.name for p in ae_run.rglob("*"))
    metrics = (ae_run / "metrics.json").read_bytes()
    rc = main([a.replace("{run}", str(ae_run)) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("latentatlas: error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err
    assert sorted(p.name for p in ae_run.rglob("*")) == before
    assert (ae_run / "metrics.json").read_bytes() == metrics


def test_sampler_needing_labels_without_labels_via_the_stage(ae_run):
    from latentatlas.stages.samplers import fit_samplers

    ctx = open_run(ae_run)
    ctx.latents["train_labels"] = None                               # e.g. an unlabelled image folder
    with pytest.raises(UserError, match="needs class labels"):
        fit_samplers(ctx, ["class-gaussian"])


def test_generate_config_from_args_layers_options_over_a_preset():
    from latentatlas.commands.generation import generate_config_from_args
    from latentatlas.settings import add_section_options

    p = argparse.ArgumentParser()
    add_section_options(p, "generate")  # as `run` declares them
    args = p.parse_args(["--sampler", "gmm", "--components", "20", "--no-judge", "--walk", "4", "9"])
    cfg = generate_config_from_args(args, base={"samplers": ["class-gaussian"], "steps": 7})
    assert cfg.samplers == ["gmm"] and cfg.n_components == 20 and cfg.judge is False
    assert cfg.walks == [["4", "9"]] and cfg.steps == 7 and cfg.tour is True
    with pytest.raises(UserError, match="positive whole number"):
        generate_config_from_args(p.parse_args(["--n-per-class", "0"]))
