"""analyze_run and `latentatlas analyze`: sections, figures, timings, fallbacks, bad input.

Most tests use fake runs whose "codes" are a PCA of the embedded MNIST sample's
pixels (no training needed; the analysis is model-agnostic); one uses a tiny
trained VAE through the command line.
"""

import json
import shutil

import numpy as np
import pytest

from latentatlas.cli import main
from latentatlas.stages.analyze import analyze_run
from latentatlas.settings import AnalysisConfig


def fake_run(path, dims=10, classes=None, kind="ae"):
    """A run folder with config.json and latents.npz only: codes = PCA of the pixels."""
    from sklearn.decomposition import PCA

    from latentatlas.data import load_dataset
    from latentatlas.rundir import RunDir

    data = {"name": "mnist-sample", "classes": classes}
    ds = load_dataset(**data)
    def flat(x):
        return x.reshape(len(x), -1).astype(np.float32) / 255
    pca = PCA(dims, random_state=0).fit(flat(ds.x_train))
    lat = dict(train_mean=pca.transform(flat(ds.x_train)).astype(np.float32),
               test_mean=pca.transform(flat(ds.x_test)).astype(np.float32),
               train_labels=ds.y_train, test_labels=ds.y_test, class_names=np.array(ds.class_names),
               kind=np.array(kind))
    if kind == "vae":
        lat["train_logvar"] = np.full_like(lat["train_mean"], -2.0)
        lat["test_logvar"] = np.full_like(lat["test_mean"], -2.0)
    path.mkdir(parents=True)
    RunDir(path).write_latents(lat)
    RunDir(path).write_config({"data": data})
    return path


SMALL = dict(projection_max_samples=2000, raw_max_samples=500, quality_max_samples=500, hover_images=40, n_jobs=1)


def test_analyze_writes_three_sections_figures_and_timings(tmp_path, capsys):
    run = fake_run(tmp_path / "run")
    cfg = AnalysisConfig(projections=["pca:2", "pca:3", "lda:2", "lda:3"], probes=["svm", "logreg", "knn"],
                         clusterers=["gmm", "kmeans"], **SMALL)
    out = analyze_run(run, cfg)
    metrics = json.loads((run / "metrics.json").read_text())
    for section in ("projections", "probes", "clustering"):
        assert metrics[section]["features"] == "mean"
        assert metrics[section]["figures"], section
        for fig in metrics[section]["figures"]:
            assert (run / fig["path"]).is_file() and fig["title"] and fig["caption"]
            assert fig["kind"] in ("png", "html")
    proj = metrics["projections"]
    for key in ("pca_2d", "lda_2d"):
        for side in ("latent", "raw"):
            q = proj[key][side]
            assert q["n_points"] == 500 and 0 <= q["knn_accuracy"] <= 1 and 0 <= q["trustworthiness"] <= 1
    assert proj["pca_spectrum"]["n_components_90"] <= proj["pca_spectrum"]["n_components_99"] <= 10
    assert proj["raw_pca_spectrum"]["n_components_90"] > 10      # pixels need far more than the codes
    assert proj["raw_baseline"]["subsampled"] is True and "500 of 10,000" in proj["raw_baseline"]["note"]
    assert metrics["probes"]["svm"]["solver"].startswith("exact")    # 8000 <= 70000 training codes
    assert metrics["probes"]["svm"]["accuracy"] > 0.85 and len(metrics["probes"]["knn"]["confusion_matrix"]) == 10
    assert 0 < metrics["clustering"]["gmm"]["accuracy"] <= 1 and "nmi" in metrics["clustering"]["kmeans"]
    assert metrics["clustering"]["n_points"] == 10000                   # train + test, no labels used to fit
    assert any(k.startswith("analyze.projections.pca_2d") for k in metrics["timings"])
    assert "pca_2d fit" in capsys.readouterr().out                        # per-step timings printed
    # the interactive figure: offline page with plotly.js, images for 40 points, and its JSON
    page = (run / "figures" / "projections_pca_3d.html").read_text()
    assert "Plotly.newPlot" in page and "<script src" not in page and len(page) > 1_000_000
    fig = json.loads((run / "figures" / "projections_pca_3d.json").read_text())
    assert len(fig["layout"]["meta"]["hover_images"]) == 40
    assert sum(len(t["customdata"]) for t in fig["data"]) == 2000
    assert [t["name"] for t in fig["data"]] == [str(i) for i in range(10)]
    assert out["probes"]["svm"]["accuracy"] == metrics["probes"]["svm"]["accuracy"]


def test_three_classes_and_a_2d_latent_fall_back_and_draw_ellipses(tmp_path):
    run = fake_run(tmp_path / "run148", dims=2, classes=["1", "4", "8"])
    cfg = AnalysisConfig(projections=["pca:3", "lda:3", "lda:2"], probes=["knn"], clusterers=["gmm"], **SMALL)
    analyze_run(run, cfg, verbose=False)
    m = json.loads((run / "metrics.json").read_text())
    proj = m["projections"]
    assert proj["lda_3d"]["dims"] == 2 and "3 classes give at most 2" in proj["lda_3d"]["notes"][0]
    assert proj["pca_3d"]["dims"] == 2 and "only 2" in proj["pca_3d"]["notes"][0]
    assert any("same as lda_2d" in n for n in proj["lda_2d"]["notes"])
    paths = [f["path"] for f in proj["figures"]]
    assert "figures/projections_lda_2d.png" in paths and not any(p.endswith(".html") for p in paths)
    ell = [f for f in m["clustering"]["figures"] if "ellipses" in f["path"]]
    assert ell and "2-D latent" in ell[0]["title"]
    assert m["clustering"]["n_classes"] == 3 and m["clustering"]["gmm"]["accuracy"] > 0.8


def test_only_one_part(template_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(template_run, run)
    (run / "metrics.json").write_text(json.dumps({"timings": {"analyze.probes.svm fit": 1.0,
                                                             "analyze.projections.pca_2d fit": 2.0}}))
    assert main(["analyze", str(run), "--only", "probes", "--probes", "logreg"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    assert "analyze.probes.svm fit" not in m["timings"]                  # stale step of an earlier analysis
    assert "analyze.probes.logreg fit" in m["timings"] and "analyze.projections.pca_2d fit" in m["timings"]
    assert "probes" in m and "projections" not in m and "clustering" not in m
    assert set(k for k in m["probes"] if isinstance(m["probes"][k], dict) and "solver" in m["probes"][k]) \
        == {"logreg"}
    assert m["probes"]["majority_baseline"]["balanced_accuracy"] == 0.1        # 10 classes: the reference row


def test_umap_layout_parallel_reaches_every_umap_and_is_said(template_run, tmp_path):
    """--umap-layout parallel: the codes' UMAP, the raw-pixel UMAP and N2D's UMAP lay out on the
    jobs' threads, and metrics.json says so beside each; seeded (the 2-core default) says nothing."""
    run = tmp_path / "run"
    shutil.copytree(template_run, run)
    args = ["analyze", str(run), "--projections", "umap:2", "--probes", "none", "--clusterers", "n2d",
            "--projection-max-samples", "1500", "--raw-max-samples", "300", "--quality-max-samples", "300",
            "--jobs", "2"]
    assert main([*args, "--umap-layout", "parallel"]) == 0
    m = json.loads((run / "metrics.json").read_text())
    said = "2 threads: not bit-reproducible"
    assert any(said in n for n in m["projections"]["umap_2d"]["notes"])
    assert any(said in n for n in m["projections"]["umap_2d"]["raw_notes"])
    assert any(said in n for n in m["clustering"]["n2d"]["notes"])
    assert main(args) == 0                          # auto with 2 jobs: umap-learn's seeded layout
    m = json.loads((run / "metrics.json").read_text())
    assert not any("threads" in n for n in m["projections"]["umap_2d"]["notes"])
    assert "notes" not in m["clustering"]["n2d"]


@pytest.fixture(scope="module")
def template_run(tmp_path_factory):
    return fake_run(tmp_path_factory.mktemp("template") / "run")


def _nothing_written(run, before):
    assert sorted(p.name for p in run.iterdir()) == before
    assert not (run / "figures").exists()


@pytest.mark.parametrize("argv", [
    ["--n-clusters", "1"],                 # a clusterer with < 2 clusters
    ["--projections", "tsne:4"],           # more dims than the method draws
    ["--projections", "pca:2,lda:9"],
    ["--features", "mu+logvar"],           # an AE has no log-variances
    ["--features", "z"],
    ["--only", "plots"],
])
def test_bad_options_fail_in_one_line_and_write_nothing(template_run, tmp_path, capsys, argv):
    run = tmp_path / "run"
    shutil.copytree(template_run, run)
    before = sorted(p.name for p in run.iterdir())
    with pytest.raises(SystemExit) if argv[0] == "--features" and argv[1] not in ("mean", "mu+logvar", "z") \
            else _NoRaise():
        code = main(["analyze", str(run), *argv])
        assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("latentatlas: error:") and "\n" not in err
    _nothing_written(run, before)


class _NoRaise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_run_without_weights_or_with_partial_weights(tiny_runs, tmp_path, capsys):
    for case in ("missing", "truncated", "no-model-json"):
        run = tmp_path / case
        shutil.copytree(tiny_runs["ae"], run)
        (run / "latents.npz").unlink(missing_ok=True)
        w = run / "model.safetensors"
        if case == "missing":
            w.unlink()
        elif case == "truncated":
            w.write_bytes(w.read_bytes()[:1000])
        else:
            (run / "model.json").unlink()
        before = sorted(p.name for p in run.iterdir())
        metrics = (run / "metrics.json").read_text()
        assert main(["analyze", str(run)]) == 2, case
        err = capsys.readouterr().err.strip()
        assert err.startswith("latentatlas: error:") and "\n" not in err, case
        assert sorted(p.name for p in run.iterdir()) == before, case
        assert (run / "metrics.json").read_text() == metrics


def test_missing_run_dir(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_tiny_vae_through_the_command_line_with_mu_logvar(tiny_runs, tmp_path, capsys):
    run = tmp_path / "vae"
    shutil.copytree(tiny_runs["vae"], run)
    code = main(["analyze", str(run), "--features", "mu+logvar", "--projections", "pca:2,tsne:2",
                 "--projection-max-samples", "400", "--raw-max-samples", "200", "--quality-max-samples", "200",
                 "--probes", "knn,logreg", "--clusterers", "gmm,kmeans", "--no-interactive", "--n-jobs", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "VAE [mu, log sigma^2] concatenated (mu+logvar), 8-d" in out
    m = json.loads((run / "metrics.json").read_text())
    for section in ("projections", "probes", "clustering"):
        assert m[section]["features"] == "mu+logvar"
        assert "[mu, log sigma^2]" in m[section]["features_described"]
    assert m["probes"]["dims"] == 8
    assert m["projections"]["tsne_2d"]["gradient"] == "Barnes-Hut"   # 400 points: BH is the faster
    assert m["probes"]["knn"]["accuracy"] > 0.3


# ------------------------------------------------------------------ colour: hover images, raw pixels, factors
def colour_run(path, monkeypatch, with_hue: bool):
    """A fake run on the tinted sample ("mnist-color"): codes = 8 principal components of the grey
    pixels, plus the hue as (cos, sin) columns when with_hue, else two columns of noise."""
    from colour_helpers import tinted_sample, use_tinted_sample
    from sklearn.decomposition import PCA

    from latentatlas.rundir import RunDir

    use_tinted_sample(monkeypatch)
    ds = tinted_sample()
    def grey(x):
        return x.astype(np.float32).max(axis=1).reshape(len(x), -1) / 255
    pca = PCA(8, random_state=0).fit(grey(ds.x_train))
    rng = np.random.default_rng(0)

    def codes(x, hue):
        extra = (np.column_stack([np.cos(2 * np.pi * hue), np.sin(2 * np.pi * hue)]) if with_hue
                 else rng.normal(size=(len(x), 2)))
        return np.column_stack([pca.transform(grey(x)), 3 * extra]).astype(np.float32)

    path.mkdir(parents=True)
    RunDir(path).write_latents(dict(
        train_mean=codes(ds.x_train, ds.factors_train["hue"]), test_mean=codes(ds.x_test, ds.factors_test["hue"]),
        train_labels=ds.y_train, test_labels=ds.y_test, class_names=np.array(ds.class_names), kind=np.array("ae")))
    RunDir(path).write_config({"data": {"name": "mnist-color"}})
    return path


def hover_png(run, name):
    """The first hover image of an interactive figure, decoded."""
    import base64
    import io

    from PIL import Image

    fig = json.loads((run / "figures" / name).read_text())
    return Image.open(io.BytesIO(base64.b64decode(fig["layout"]["meta"]["hover_images"][0]))), fig


COLOUR_CFG = dict(projections=["pca:2", "pca:3", "lda:2"], probes=["logreg"], clusterers=[], **SMALL)


def test_colour_run_measures_the_hue_and_draws_it(tmp_path, monkeypatch):
    from latentatlas.stages.report.html import render_report

    run = colour_run(tmp_path / "run", monkeypatch, with_hue=True)
    analyze_run(run, AnalysisConfig(**COLOUR_CFG), verbose=False)
    m = json.loads((run / "metrics.json").read_text())
    factors = m["probes"]["factors"]
    assert factors["class"] == {"accuracy": m["probes"]["logreg"]["accuracy"], "probe": "logreg"}
    hue = factors["hue"]
    assert hue["r2"] > 0.9 and hue["probe"] in ("ridge", "knn") and hue["ridge"]["r2"] > 0.9   # (cos, sin) columns
    assert hue["ridge"]["mean_angle_error_deg"] < 10 and "circular" in hue["target"]
    # the raw-pixel baseline sees every channel: 3 * 28 * 28 values per image
    assert "raw pixels (2352-d)" in m["projections"]["raw_baseline"]["note"]
    # ... and, being wider than 1,024 values, reaches LDA through 256 principal components (Fisherfaces),
    # while PCA and its spectrum keep every pixel, and the grey run below keeps all 784 pixels for both
    assert "raw_input" not in m["projections"]["pca_2d"]
    assert m["projections"]["lda_2d"]["raw_input"].startswith("first 256 principal components")
    assert len(m["projections"]["raw_pca_spectrum"]["explained_variance"]) == 500     # min(500 rows, 2352)
    # ... whose components are scratch, not a result: metrics.json once held them (500 x 256 numbers)
    assert "pca_wide" not in m["projections"]["raw_baseline"] and (run / "metrics.json").stat().st_size < 300_000
    # hover images in colour, the figure's switch between class and hue
    img, fig = hover_png(run, "projections_pca_3d.json")
    assert img.mode == "RGB" and img.size == (28, 28)
    rgb = np.asarray(img).reshape(-1, 3)
    assert (rgb.max(axis=1) - rgb.min(axis=1)).max() > 100             # tinted strokes, not grey
    labels = [b["label"] for b in fig["layout"]["updatemenus"][0]["buttons"]]
    assert labels == ["colour: class", "colour: hue"]
    hue_trace = fig["data"][-1]
    assert hue_trace["visible"] is False and hue_trace["marker"]["colorscale"][0][1].lower() in ("#ff0000", "rgb(255,0,0)")
    assert len(hue_trace["customdata"]) == 2000 and fig["layout"]["updatemenus"][0]["buttons"][1]["args"][0]["visible"] == \
        [False] * 10 + [True]
    assert (run / "figures" / "projections_pca_2d_hue.png").is_file()
    assert any(f["path"] == "figures/projections_pca_2d_hue.png" for f in m["projections"]["figures"])
    page = render_report(run)
    assert "What the codes carry" in page and f"hue: R^2 {hue['r2']:.3f}" in page


def test_codes_without_the_hue_score_near_zero(tmp_path, monkeypatch):
    run = colour_run(tmp_path / "run", monkeypatch, with_hue=False)
    analyze_run(run, AnalysisConfig(**{**COLOUR_CFG, "projections": []}), verbose=False)
    hue = json.loads((run / "metrics.json").read_text())["probes"]["factors"]["hue"]
    # grey-pixel components and noise say nothing of the tint: no better than the mean, ~90 degrees off
    assert hue["r2"] < 0.05 and hue["ridge"]["mean_angle_error_deg"] > 70


def test_grey_run_has_no_factors_and_grey_hover_images(template_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(template_run, run)
    analyze_run(run, AnalysisConfig(**COLOUR_CFG), verbose=False)
    m = json.loads((run / "metrics.json").read_text())
    assert "factors" not in m["probes"] and not (run / "figures" / "projections_pca_2d_hue.png").exists()
    img, fig = hover_png(run, "projections_pca_3d.json")
    assert img.mode == "L" and img.size == (28, 28) and "updatemenus" not in fig["layout"]
    assert "raw pixels (784-d)" in m["projections"]["raw_baseline"]["note"]
    assert "raw_input" not in m["projections"]["pca_2d"] and "raw_input" not in m["projections"].get("lda_2d", {})


def test_probes_alone_go_on_when_the_data_is_gone(template_run, tmp_path):
    from latentatlas.rundir import RunDir

    run = tmp_path / "run"
    shutil.copytree(template_run, run)
    RunDir(run).write_config({"data": {"name": "npz:" + str(tmp_path / "gone.npz")}})
    analyze_run(run, AnalysisConfig(projections=[], probes=["logreg"], clusterers=[], interactive=False,
                                    raw_baseline=False, n_jobs=1), verbose=False)
    probes = json.loads((run / "metrics.json").read_text())["probes"]
    assert probes["logreg"]["accuracy"] > 0.8 and "did not load" in probes["factors"]["note"]
