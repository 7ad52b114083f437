"""The HTML report: self-contained, ordered, escaped, numbers from metrics.json, renders in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from latentatlas.cli import main
from latentatlas.stages.report.embed import plotly_fragment
from latentatlas.stages.report.html import SECTIONS, render_report, write_report
from latentatlas.rundir import RunDir, atomic_write_json
from browser_helpers import check_in_browser

EVIL = "<b>&"  # a class name that must come out escaped
QUALITY = ("knn_accuracy", "silhouette", "trustworthiness")


def _plotly_html(path: Path, seed: int) -> None:
    import plotly.graph_objects as go

    rng = np.random.default_rng(seed)
    fig = go.Figure(go.Scatter3d(x=rng.normal(size=50), y=rng.normal(size=50), z=rng.normal(size=50),
                                 mode="markers", text=[EVIL] * 50))
    fig.write_html(path, include_plotlyjs=True, full_html=True)


def make_fake_run(path: Path, class_names=("zero", EVIL, "two"), interactive: int = 2, seed: int = 0) -> RunDir:
    """A run directory as the stages write it, with figures and numbers made here by code."""
    from latentatlas.figures.grids import save_gif, save_grid_png

    run = RunDir(path).ensure()
    rng = np.random.default_rng(seed)
    imgs = rng.random((16, 28, 28)).astype(np.float32)
    save_grid_png(run.figures / "train_reconstructions.png", imgs)
    save_gif(run.figures / "train_progress.gif", [imgs[i] for i in range(4)])
    save_grid_png(run.figures / "generation_class_gaussian.png", imgs)
    save_grid_png(run.figures / "interpolation_walk.png", imgs[:8])
    html_figs = []
    for i in range(interactive):
        if i % 2 == 0:  # as the analysis writes them: HTML + JSON, hover images (figures.interactive)
            from latentatlas.figures.interactive import scatter_3d_figure, write_html

            k = len(class_names)
            fig = scatter_3d_figure(rng.normal(size=(60, 3)), np.arange(60) % k, list(class_names),
                                    f"PCA 3-D {EVIL}", images=(imgs[np.arange(60) % 16] * 255).astype(np.uint8),
                                    hover_images=10)
            write_html(fig, run.figures / f"projections_pca_3d_{i}.html")
        else:  # any plotly page with plotly.js inlined
            _plotly_html(run.figures / f"projections_pca_3d_{i}.html", i)
        html_figs.append({"path": f"figures/projections_pca_3d_{i}.html", "title": f"PCA 3-D #{i}",
                          "kind": "html", "caption": f"interactive {EVIL}"})
    k = len(class_names)
    conf = rng.integers(0, 50, size=(k, k)).tolist()
    probe_acc = float(rng.uniform(0.5, 1.0))
    metrics = {
        "data": {"name": "fake", "n_train": 48, "n_test": 12, "class_names": list(class_names)},
        "train": {"epochs": 2, "final_test_loss": float(rng.uniform(90, 110)),
                  "figures": [{"path": "figures/train_reconstructions.png", "title": "Reconstructions",
                               "kind": "png", "caption": "test images, top; reconstructions, bottom"},
                              {"path": "figures/train_progress.gif", "title": "Progress", "kind": "gif"}]},
        "projections": {"pca_2d": {"method": "pca", "points": 60, "seconds": 0.5,
                                   "latent": {m: float(rng.uniform(0.5, 1)) for m in QUALITY},
                                   "raw": {m: float(rng.uniform(0.1, 0.5)) for m in QUALITY}},
                        "pca_spectrum": {"n_components_90": int(rng.integers(2, 9)),
                                         "explained_variance_ratio": [0.5, 0.3, 0.2]},
                        "figures": html_figs},
        "probes": {"svm": {"accuracy": probe_acc, "confusion_matrix": conf}},
        "clustering": {"gmm": {"accuracy": float(rng.uniform(0.5, 1)), "nmi": float(rng.uniform(0, 1))}},
        "generation": {"figures": [{"path": "figures/generation_class_gaussian.png",
                                    "title": "Class Gaussian samples", "kind": "png"}]},
        "interpolation": {"figures": [{"path": "figures/interpolation_walk.png", "title": "Walk", "kind": "png"}]},
        "timings": {"train": float(rng.uniform(1, 10)), "analyze": float(rng.uniform(1, 10))},
    }
    atomic_write_json(run / "metrics.json", metrics)
    atomic_write_json(run / "config.json", {"data": {"name": "fake"}, "model": {"name": "vae", "latent_dim": 2},
                                            "train": {"epochs": 2}})
    (run / "history.jsonl").write_text("".join(
        json.dumps({"epoch": e + 1, "train_loss": 100.0 - e, "test_loss": 101.0 - e}) + "\n" for e in range(2)))
    return run


def test_report_is_self_contained_ordered_and_escaped(tmp_path):
    run = make_fake_run(tmp_path / "run")
    out = write_report(run.path)
    text = out.read_text(encoding="utf-8")
    # One copy of plotly.js for two interactive figures; both figures' divs present.
    assert text.count("* plotly.js v") == 1
    assert text.count('class="plotly-graph-div"') == 1 and text.count('class="latentatlas-plotly"') == 1
    # Offline: no external scripts, stylesheets or images.
    assert not re.search(r'<script[^>]+src=', text)
    assert not re.search(r'<(img|link)[^>]+(src|href)="https?://', text)
    assert 'src="data:image/gif;base64,' in text and 'src="data:image/png;base64,' in text
    # Escaped user text: the raw class name never appears as markup outside script data.
    outside_scripts = re.sub(r"<script\b.*?</script>", "", text, flags=re.DOTALL)
    assert EVIL not in outside_scripts
    assert "&lt;b&gt;&amp;" in outside_scripts
    # Sections in the fixed order (those present).
    positions = [outside_scripts.find(f'id="{key}"') for key, _ in SECTIONS]
    present = [p for p in positions if p >= 0]
    assert present == sorted(present) and len(present) >= 9
    # Numbers are those of metrics.json.
    metrics = json.loads((run / "metrics.json").read_text())
    acc = metrics["probes"]["svm"]["accuracy"]
    assert f"{acc:.4f}".rstrip("0") in outside_scripts
    for q in QUALITY:  # the before/after table: both numbers of each measure
        for side in ("latent", "raw"):
            assert f"{metrics['projections']['pca_2d'][side][q]:.4f}".rstrip("0") in outside_scripts
    n90 = metrics["projections"]["pca_spectrum"]["n_components_90"]
    assert f"90 % of the variance: <b>{n90}</b>" in outside_scripts
    assert "report" in json.loads((run / "metrics.json").read_text())["timings"]


def test_stage_missing_says_so(tmp_path):
    run = RunDir(tmp_path / "run").ensure()
    atomic_write_json(run / "config.json", {"data": {"name": "mnist"}})
    text = render_report(run.path)
    assert text.count("This stage did not run") >= 5
    assert "latentatlas analyze" in text
    assert "plotly.js v" not in text  # no interactive figure, no 4 MB script


def test_plotly_fragment_drops_library_keeps_plot(tmp_path):
    _plotly_html(tmp_path / "f.html", 0)
    fragment, n = plotly_fragment((tmp_path / "f.html").read_text())
    assert n == 1 and "Plotly.newPlot" in fragment and "* plotly.js v" not in fragment


def test_report_command_and_bad_dir(tmp_path, capsys):
    run = make_fake_run(tmp_path / "run", interactive=0)
    assert main(["report", str(run.path)]) == 0
    assert (run / "report.html").is_file()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    assert main(["report", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert "not a latentatlas run" in err and len(err.strip().splitlines()) == 1


def _section(text: str, key: str) -> str:
    """The HTML of one <section id=key> of the report ("" when absent)."""
    m = re.search(rf'<section class="card[^"]*" id="{key}">(.*?)</section>', text, flags=re.DOTALL)
    return m.group(1) if m else ""


def _figures_run(path: Path, figures: dict[str, list[tuple[str, str | None]]]) -> RunDir:
    """A run whose metrics sections list the given (file name, recorded section or None) figures."""
    from latentatlas.figures.grids import save_grid_png

    run = RunDir(path).ensure()
    metrics = {}
    for name, figs in figures.items():
        listed = []
        for file, section in figs:
            save_grid_png(run.figures / file, np.zeros((4, 8, 8), np.float32))
            fig = {"path": f"figures/{file}", "title": f"title of {file}", "kind": "png"}
            if section is not None:
                fig["section"] = section
            listed.append(fig)
        metrics[name] = {"figures": listed}
    atomic_write_json(run / "metrics.json", metrics)
    return run


def test_figures_go_to_the_section_their_stage_recorded(tmp_path):
    # Recorded sections win over the metrics.json section that lists the figure, whatever the file is called.
    run = _figures_run(tmp_path / "run", {"train": [("a.png", "reconstructions"), ("recon_curve.png", "training")],
                                          "interpolation": [("b.png", "generation")],
                                          "projections": [("c.png", "pca"), ("walk.png", "projections")]})
    text = render_report(run.path)
    expected = {"reconstructions": "a.png", "training": "recon_curve.png", "generation": "b.png", "pca": "c.png",
                "projections": "walk.png"}
    for key, file in expected.items():
        assert f"title of {file}" in _section(text, key), key
    assert "title of b.png" not in _section(text, "walks")
    assert text.count("<b>title of ") == len(expected)  # each figure exactly once (its caption)


def test_run_folder_without_sections_reports_as_before(tmp_path):
    # Figures listed before they carried a section: placed by the metrics.json section that lists them,
    # the release's reconstructions GIF and PCA spectra where that release showed them.
    run = _figures_run(tmp_path / "old", {
        "data": [("data_train_images.png", None)],
        "train": [("train_loss.png", None), ("train_progress_samples.gif", None),
                  ("train_progress_recon.gif", None)],
        "projections": [("projections_pca_2d.png", None), ("projections_pca_spectrum.png", None),
                        ("projections_raw_pca_spectrum.png", None)],
        "probes": [("probes_svm_confusion.png", None)], "clustering": [("clustering_gmm_table.png", None)],
        "generation": [("generation_gmm.png", None)], "judge": [("judge_frechet.png", None)],
        "interpolation": [("interpolation_class_means.png", None)], "custom": [("mine.png", None)]})
    text = render_report(run.path)
    expected = {"data": ["data_train_images.png"], "training": ["train_loss.png", "train_progress_samples.gif"],
                "reconstructions": ["train_progress_recon.gif"], "projections": ["projections_pca_2d.png"],
                "pca": ["projections_pca_spectrum.png", "projections_raw_pca_spectrum.png"],
                "probes": ["probes_svm_confusion.png"], "clustering": ["clustering_gmm_table.png"],
                "generation": ["generation_gmm.png", "judge_frechet.png"],
                "walks": ["interpolation_class_means.png"], "other": ["mine.png"]}
    for key, files in expected.items():
        for file in files:
            assert f"title of {file}" in _section(text, key), (key, file)


def test_report_renders_in_chromium_without_script_errors(tmp_path):
    run = make_fake_run(tmp_path / "run", interactive=2)
    report = write_report(run.path)
    seen = check_in_browser(report, tmp_path, "report_fake_run.png")
    assert seen["attrs"].get("data-script-errors") == "0", seen["attrs"]
    # plotly built both interactive figures (its .plot-container exists only after it ran)
    assert seen["attrs"].get("data-plots-rendered") == "2", seen["attrs"]
    assert seen["dom"].count('class="plot-container plotly"') == 2
    assert 'id="la-fig-' in seen["dom"]


def test_browser_probe_catches_a_script_error(tmp_path):
    """The probe the browser test relies on does see an error (so the test above can fail)."""
    run = make_fake_run(tmp_path / "run", interactive=1)
    report = write_report(run.path)
    text = report.read_text(encoding="utf-8").replace("</main>", "<script>undefinedFunction()</script></main>")
    report.write_text(text, encoding="utf-8")
    seen = check_in_browser(report, tmp_path, "report_with_error.png")
    assert seen["attrs"].get("data-script-errors") == "1", seen["attrs"]


def test_study_table_quotes_the_study_beside_this_run_and_the_default(tmp_path):
    from dataclasses import asdict

    from latentatlas.settings import load_preset

    study = asdict(load_preset("study001-vae-svm").study)
    run = make_fake_run(tmp_path / "study001")
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["probes"]["svm"].update(precision=0.91, recall=0.92, f1=0.915)
    atomic_write_json(run / "metrics.json", metrics)
    atomic_write_json(run / "run.json", {"preset": "study001-vae-svm", "study": study})
    text = render_report(run.path)
    assert 'id="study"' in text and "0.9316" in text and "101.55" in text
    assert esc_source(study["source"]) in text
    assert "run --preset default-vae" in text  # no default run yet: says how to make one
    ours = metrics["probes"]["svm"]["accuracy"]
    # our default run beside it, found as runs/<baseline> next to the study's run
    base = make_fake_run(tmp_path / "default-vae", seed=7)
    base_acc = json.loads((base / "metrics.json").read_text())["probes"]["svm"]["accuracy"]
    text = render_report(run.path)
    row = re.search(r"<tr><th>SVM accuracy \(test\)</th>(.*?)</tr>", text).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[0] == "0.9316"
    assert cells[1] == f"{ours:.4f}".rstrip("0") and cells[2] == f"{base_acc:.4f}".rstrip("0")
    assert "run --preset default-vae" not in text


def esc_source(s: str) -> str:
    import html

    return html.escape(s, quote=True)


def test_class_names_are_escaped_inside_plotly_figures():
    """Plotly draws legend names and hover text as pseudo-HTML: a class named
    "<b>&" must show as those characters, not turn bold."""
    import numpy as np

    from latentatlas.figures.interactive import scatter_3d_figure

    fig = scatter_3d_figure(np.zeros((4, 3)), np.array([0, 0, 1, 1]), ["<b>&", "50%{x}"], "t")
    names = [t.name for t in fig.data]
    assert names == ["&lt;b&gt;&amp;", "50&#37;{x}"]
    assert fig.data[0].hovertemplate == "&lt;b&gt;&amp;<extra></extra>"
    assert fig.data[0].customdata[0][0] == "<b>&"   # the caption sets it as textContent


def test_report_lines_for_baselines_judge_quality_and_skipped_files():
    """The sentences a user reads first: accuracy beside balanced accuracy and the majority
    baseline, how good the judge is (or why there is none), and every file that was skipped."""
    from latentatlas.stages.report.sections import _against_baseline, _judge_line, _unusable_files

    probes = {"svm": {"accuracy": 0.816, "balanced_accuracy": 0.49, "f1": 0.51, "solver": "exact"},
              "majority_baseline": {"class": "People & Body", "accuracy": 0.59, "balanced_accuracy": 0.1}}
    line = _against_baseline(probes)
    assert "People &amp; Body" in line and "accuracy 0.59" in line and "balanced accuracy 0.49" in line
    assert _against_baseline({"svm": probes["svm"]}) == ""
    judge = {"judge": {"test_accuracy": 0.71, "epochs": 3, "train_seconds": 40.0, "share_of_model_training": 0.2,
                       "verdict": "read each fidelity against that"}}
    assert "test accuracy <b>0.71" in _judge_line(judge) and "3 epochs, 40 s, 20% of the model" in _judge_line(judge)
    none = _judge_line({"judge": {"graded": False, "reason": "class 'x' (4) has fewer than 20"}})
    assert "No judge" in none and "(4) has fewer than 20" in none
    table = _unusable_files([{"path": "a/x.png", "reason": "truncated", "detail": "image file is truncated"},
                             {"path": "b/y.png", "reason": "zero bytes", "detail": ""}])
    assert "2 could not be used" in table and "a/x.png" in table and "zero bytes" in table
