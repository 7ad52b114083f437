"""Analysis lanes (stages/analyze/scheduler.py): the sections side by side in worker processes
from LANES_MIN_JOBS jobs.

The lanes must change when the figures are ready, never what they show: the same analysis in
one process and in three lanes on as many threads each writes the same metrics (timings aside)
and the same figures. (Thread counts themselves move BLAS results in the last bits, which a
t-SNE of raw pixels then carries into a visibly different layout: as with any --jobs.)
"""

import json
import os
import shutil

import pytest

from latentatlas.errors import UserError
from latentatlas.stages.analyze import scheduler as lanes
from latentatlas.stages.analyze import analyze_run
from latentatlas.settings import AnalysisConfig
from test_analyze import fake_run

# UMAP once, inside N2D in the clustering lane: each fresh process compiles umap-learn's numba
# layout (~17 s), and that one lane already shows a numba estimator giving the same result there.
CFG = dict(projections=["pca:2", "lda:2", "tsne:2"], probes=["svm", "logreg", "knn"],
           clusterers=["gmm", "kmeans", "n2d"], projection_max_samples=1500, raw_max_samples=400,
           quality_max_samples=400, hover_images=20, n_jobs=2)


@pytest.mark.parametrize("weights", [[2, 3, 1, 2], [2, 1, 1], [2, 1], [1]])
def test_shares_use_every_job_and_give_each_lane_one(weights):
    for n_jobs in range(1, 65):
        got = lanes.shares(n_jobs, weights)
        assert len(got) == len(weights) and min(got) >= 1, n_jobs
        assert sum(got) == max(n_jobs, len(weights)), n_jobs   # oversubscribed only below one job per lane
        heaviest = weights.index(max(weights))
        assert got[heaviest] == max(got), n_jobs                # the rest goes to the heaviest lane


def test_shares_follow_the_weights():
    assert lanes.shares(16, [2, 1, 1]) == [8, 4, 4] and lanes.shares(8, [2, 1, 1]) == [4, 2, 2]
    assert lanes.shares(16, [2, 3, 1, 2]) == [4, 6, 2, 4]
    assert lanes.shares(5, [1, 2]) == [1, 4]


def _ctx(n_jobs, specs=("pca:2",), probes=("svm",), clusterers=("gmm",), images=True, raw=True, mode="auto"):
    from latentatlas.settings import parse_projection_spec

    cfg = AnalysisConfig(projections=list(specs), probes=list(probes), clusterers=list(clusterers),
                         raw_baseline=raw, n_jobs=n_jobs, lanes=mode)
    return cfg, [parse_projection_spec(s) for s in specs], images


def test_the_plan_below_the_threshold_and_with_one_lane_is_one_process():
    assert lanes.lane_plan(*_ctx(lanes.LANES_MIN_JOBS - 1)) is None
    assert lanes.lane_plan(*_ctx(16, specs=())) is None                          # the parent runs projections
    assert lanes.lane_plan(*_ctx(16, probes=(), clusterers=(), raw=False)) is None
    assert lanes.lane_plan(*_ctx(16, mode="off")) is None
    assert lanes.lane_plan(*_ctx(2, mode="on"))["jobs"] == {"projections": 1, "side": 1, "clustering": 1}
    assert lanes.lane_plan(*_ctx(16)) == {"jobs": {"projections": 7, "side": 3, "clustering": 6}, "raw": True}
    # t-SNE, the longest step, in a lane of its own with the largest share
    plan = lanes.lane_plan(*_ctx(16, specs=("pca:2", "tsne:2", "umap:2")))
    assert plan == {"jobs": {"projections": 4, "tsne": 6, "side": 2, "clustering": 4}, "raw": True}
    # without images (no data section) the raw baseline stays with the projections, which note its absence
    assert lanes.lane_plan(*_ctx(16, images=False, probes=())) == {"jobs": {"projections": 8, "clustering": 8},
                                                                   "raw": False}


def _without_timings(obj):
    """A metrics section with every wall-clock figure and thread count taken out."""
    if isinstance(obj, dict):
        return {k: _without_timings(v) for k, v in obj.items()
                if k not in ("timings", "seconds", "fit_seconds", "predict_seconds", "raw_seconds")}
    if isinstance(obj, list):
        return [_without_timings(v) for v in obj]
    return obj


def test_lanes_write_what_one_process_writes(tmp_path, capfd):
    one = fake_run(tmp_path / "one")
    three = tmp_path / "three"
    shutil.copytree(one, three)
    analyze_run(one, AnalysisConfig(**{**CFG, "n_jobs": 1}), verbose=False)
    out = analyze_run(three, AnalysisConfig(**CFG, lanes="on"))    # --jobs 2 in three lanes: 1 thread each
    printed = capfd.readouterr().out
    assert "lanes: projections on 1 threads, tsne on 1 threads, side on 1 threads, clustering on 1 threads" in printed
    assert "clustering   n2d fit" in printed and "probes       svm fit" in printed      # the children's steps
    assert "projections  tsne_2d fit" in printed
    m1, m3 = (json.loads((run / "metrics.json").read_text()) for run in (one, three))
    for section in ("projections", "probes", "clustering"):
        assert _without_timings(m3[section]) == _without_timings(m1[section]), section
        assert [f["path"] for f in m3[section]["figures"]] == [f["path"] for f in m1[section]["figures"]]
        # the same steps; only the kNN graphs differ (each lane builds the width it needs)
        def steps(m):
            return {k for k in m[section]["timings"] if not k.startswith("knn graph")}
        assert steps(m3) == steps(m1)
    # every step's timing recorded, the children's too; figures on disk, the same set both ways
    assert set(m3["timings"]) >= {"analyze.probes.svm fit", "analyze.clustering.n2d fit",
                                  "analyze.projections.raw tsne_2d fit", "analyze.projections.tsne_2d fit"}
    assert sorted(p.name for p in (three / "figures").iterdir()) == sorted(p.name for p in (one / "figures").iterdir())
    assert out["probes"]["svm"]["accuracy"] == m1["probes"]["svm"]["accuracy"]
    from latentatlas.rundir import RunDir
    assert set(RunDir(three).read_maps()) == set(RunDir(one).read_maps()) >= {"xy_tsne", "xy_pca"}  # the explorer's


def _pool(n=1):
    from joblib.externals.loky import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=n)


def test_a_lanes_one_line_error_reaches_the_parent(tmp_path):
    request = lanes.LaneRequest(run=str(tmp_path / "missing"), cfg=AnalysisConfig(n_jobs=1, probes=["logreg"]),
                                lane="side", raw=False, choice_jobs=8, verbose=False)
    pool = _pool()
    try:
        with pytest.raises(UserError, match="missing") as err:
            lanes.finish("side", pool.submit(lanes.run_lane, request))
        assert "\n" not in str(err.value)
    finally:
        pool.shutdown(kill_workers=True)


def test_a_dead_worker_is_named_with_the_way_around_it():
    pool = _pool()
    try:
        with pytest.raises(RuntimeError, match=r"clustering lane .* worker process died.*--lanes off"):
            lanes.finish("clustering", pool.submit(os._exit, 3))
    finally:
        pool.shutdown(kill_workers=True)


def test_a_lane_runs_in_a_worker_that_imports_this_latentatlas_without_pythonpath(tmp_path):
    """No PYTHONPATH is handed to the workers: loky hands them this process's sys.path."""
    import latentatlas

    pool = _pool()
    try:
        env = pool.submit(os.environ.get, "PYTHONPATH").result()
        where = pool.submit(_module_file).result()
    finally:
        pool.shutdown()
    assert env == os.environ.get("PYTHONPATH")
    assert where == latentatlas.__file__


def _module_file():
    import latentatlas

    return latentatlas.__file__


def test_every_lane_sees_the_factors_of_a_colour_run(tmp_path, full_data_dir, capfd):
    """mnist-color through lanes (each lane loads the data itself): the t-SNE lane draws the map
    coloured by hue, the side lane probes the hue, even with no interactive figure asking for images."""
    import numpy as np
    from sklearn.decomposition import PCA

    from latentatlas.data import load_dataset
    from latentatlas.rundir import RunDir

    ds = load_dataset("mnist-color")
    def grey(x):
        return x.astype(np.float32).max(axis=1).reshape(len(x), -1) / 255
    pca = PCA(8, random_state=0).fit(grey(ds.x_train[:5000]))
    def codes(x, hue):
        return np.column_stack([pca.transform(grey(x)), 3 * np.cos(2 * np.pi * hue),
                                                3 * np.sin(2 * np.pi * hue)]).astype(np.float32)
    run = tmp_path / "run"
    run.mkdir()
    RunDir(run).write_latents(dict(
        train_mean=codes(ds.x_train, ds.factors_train["hue"]), test_mean=codes(ds.x_test, ds.factors_test["hue"]),
        train_labels=ds.y_train, test_labels=ds.y_test, class_names=np.array(ds.class_names), kind=np.array("ae")))
    RunDir(run).write_config({"data": {"name": "mnist-color"}})
    analyze_run(run, AnalysisConfig(projections=["pca:2", "tsne:2"], probes=["logreg"], clusterers=["kmeans"],
                                    interactive=False, projection_max_samples=1500, raw_max_samples=300,
                                    quality_max_samples=300, n_jobs=2, lanes="on"))
    assert "tsne on 1 threads" in capfd.readouterr().out
    m = json.loads((run / "metrics.json").read_text())
    paths = [f["path"] for f in m["projections"]["figures"]]
    assert paths.index("figures/projections_pca_2d_hue.png") < paths.index("figures/projections_tsne_2d_hue.png")
    assert (run / "figures" / "projections_tsne_2d_hue.png").is_file()
    assert m["probes"]["factors"]["hue"]["r2"] > 0.9 and "raw pixels (2352-d)" in m["projections"]["raw_baseline"]["note"]


def test_a_bad_lanes_setting_is_one_line_naming_the_choices():
    from latentatlas.settings import RunConfig

    for make in (lambda: AnalysisConfig(lanes="always"), lambda: RunConfig.from_dict({"analysis": {"lanes": "always"}})):
        with pytest.raises(UserError) as err:
            make()
        assert "lanes" in str(err.value) and "auto, on, off" in str(err.value) and "\n" not in str(err.value)
