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
from latentatlas.settings import AnalysisConfig
from latentatlas.latent.analyze import analyze_run


def fake_run(path, dims=10, classes=None, kind="ae"):
    """A run folder with config.json and latents.npz only: codes = PCA of the pixels."""
    from sklearn.decomposition import PCA

    from latentatlas.data import load_dataset
    from latentatlas.rundir import RunDir

    data = {"name": "mnist-sample", "classes": classes}
    ds = load_dataset(**data)
    flat = lambda x: x.reshape(len(x), -1).astype(np.float32) / 255  # noqa: E731
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
    assert set(k for k in m["probes"] if isinstance(m["probes"][k], dict) and "accuracy" in m["probes"][k]) \
        == {"logreg"}


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
