"""Run folders of an older format: the previous release's folder opens, encodes, analyses,
reports and explores with this release, and records the format after a write; a folder of
a newer format is refused in one line.

tests/ground/fixtures/run_3eefde6/ was written by release 3eefde6 (format 1, no version recorded):

    latentatlas run --preset demo --dataset mnist-sample --classes 0,1,2 --model vae --latent-dim 4
        --channels 8,16 --hidden-dim 32 --threads 1 --epochs 1 --max-train-images 500
        --projections pca:2 --probes logreg --clusterers kmeans --quality-max-samples 300
        --raw-max-samples 300 --no-interactive --out run_3eefde6

then report.html, figures/, progress/ and checkpoint/ left out (size): the report says that
each figure file is missing, as that release's report does.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import assert_one_line_error, run_cli, snapshot
from latentatlas.errors import UserError
from latentatlas.rundir import FORMAT_KEY, FORMAT_VERSION, RunDir, atomic_write_json

FIXTURE = Path(__file__).parent / "fixtures" / "run_3eefde6"
ANALYSIS = ["--projections", "pca:2", "--probes", "logreg", "--clusterers", "kmeans", "--n-init", "1",
            "--quality-max-samples", "300", "--raw-max-samples", "300", "--no-interactive", "--lanes", "off",
            "--n-jobs", "1"]


@pytest.fixture
def old_run(tmp_path) -> Path:
    """A copy of the fixture as the old release left it."""
    run = tmp_path / "run_3eefde6"
    shutil.copytree(FIXTURE, run)
    # maps.npz is tied to latents.npz's size and mtime, which a checkout does not keep: give
    # latents.npz the mtime it had, so that the saved maps count as current, as they did then.
    with np.load(run / "maps.npz") as maps:
        size, mtime = (int(v) for v in str(maps["latents_stamp"]).split(":"))
    assert size == (run / "latents.npz").stat().st_size
    os.utime(run / "latents.npz", ns=(mtime, mtime))
    return run


def state_of(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


def test_the_fixture_is_an_unrecorded_format_1_folder(old_run):
    rd = RunDir(old_run)
    assert rd.is_run() and rd.has_model()
    assert FORMAT_KEY not in state_of(old_run)
    assert rd.format_version() == 1
    assert RunDir(old_run).read_maps()["xy_pca"].shape == (3147, 2)   # its maps are current


def test_encode_again(old_run, capsys):
    before = np.load(FIXTURE / "latents.npz")
    stages = state_of(old_run)["stages"]
    rc, out, err = run_cli(capsys, "encode", old_run)
    assert rc == 0, err
    assert f"-> {old_run}/latents.npz" in out
    with np.load(old_run / "latents.npz") as after:
        assert sorted(after.files) == sorted(before.files)
        for name in ("train_mean", "test_mean", "train_logvar", "test_logvar"):
            assert after[name].shape == before[name].shape
            np.testing.assert_allclose(after[name], before[name], atol=1e-4)   # the same model, the same codes
        np.testing.assert_array_equal(after["train_labels"], before["train_labels"])
    encode = json.loads((old_run / "metrics.json").read_text())["encode"]
    assert encode["n_train"] == 2516 and encode["n_test"] == 631 and encode["kind"] == "vae"
    state = state_of(old_run)
    assert state[FORMAT_KEY] == FORMAT_VERSION and state["stages"] == stages   # recorded, nothing else lost
    assert RunDir(old_run).read_maps() == {}            # maps of the old codes are no longer current


def test_analyze(old_run, capsys):
    old = json.loads((old_run / "metrics.json").read_text())
    rc, out, err = run_cli(capsys, "analyze", old_run, *ANALYSIS)
    assert rc == 0, err
    metrics = json.loads((old_run / "metrics.json").read_text())
    assert {"train", "data", "encode", "projections", "probes", "clustering", "generation"} <= set(metrics)
    assert metrics["train"] == old["train"] and metrics["generation"] == old["generation"]   # kept
    assert metrics["probes"]["logreg"]["accuracy"] == pytest.approx(old["probes"]["logreg"]["accuracy"], abs=0.02)
    assert metrics["clustering"]["kmeans"]["accuracy"] > 0.4
    for section in ("projections", "probes", "clustering"):
        for fig in metrics[section]["figures"]:
            assert (old_run / fig["path"]).is_file(), fig["path"]
    assert state_of(old_run)[FORMAT_KEY] == FORMAT_VERSION


def test_report(old_run, capsys):
    rc, out, err = run_cli(capsys, "report", old_run)
    assert rc == 0, err
    html = (old_run / "report.html").read_text(encoding="utf-8")
    for title in ("Data and configuration", "Training", "Projections: before and after", "Probes",
                  "Clustering", "Generation and the judge", "Timings"):
        assert f"<h2>{title}</h2>" in html, title
    assert "0.7639" in html                         # the old run's probe accuracy, from its metrics.json
    assert "figure file figures/train_loss.png is missing from the run directory" in html
    assert state_of(old_run)[FORMAT_KEY] == FORMAT_VERSION


def test_explore(old_run):
    from latentatlas.explore.state import ExploreState

    state = ExploreState.load(old_run, views=["pca"], progress=False)
    assert state.kind == "vae" and [str(c) for c in state.class_names] == ["0", "1", "2"]
    assert len(state.codes) == len(state.images) == 3147 and state.n_train == 2516
    assert state.views["pca"].source == "saved (maps.npz)"          # the old release's view, reused
    assert {"class", "cluster", "probe_pred", "variance"} <= set(state.colourings)
    maps = RunDir(old_run).read_maps()                              # the colourings saved beside it
    assert {"xy_pca", "idx_pca", "cluster", "probe_pred"} <= set(maps)
    assert state_of(old_run)[FORMAT_KEY] == FORMAT_VERSION


# -- a newer format, or a value that is no format -----------------------------------------------

@pytest.mark.parametrize("command", [["report"], ["encode"], ["analyze", *ANALYSIS], ["compare"]])
def test_a_newer_format_is_refused_in_one_line(old_run, capsys, command):
    state = state_of(old_run)
    atomic_write_json(old_run / "run.json", {**state, FORMAT_KEY: FORMAT_VERSION + 1})
    before = snapshot(old_run)
    argv = [command[0], old_run, *([old_run] if command[0] == "compare" else []), *command[1:]]
    rc, out, err = run_cli(capsys, *argv)
    assert_one_line_error(rc, err, f"{old_run} is in run format {FORMAT_VERSION + 1}",
                          f"formats 0 to {FORMAT_VERSION}", "upgrade latentatlas")
    assert snapshot(old_run) == before                              # nothing written


def test_the_explorer_refuses_a_newer_format(old_run):
    from latentatlas.explore.state import ExploreState

    atomic_write_json(old_run / "run.json", {**state_of(old_run), FORMAT_KEY: FORMAT_VERSION + 1})
    newer = rf"is in run format {FORMAT_VERSION + 1} \(run.json\), newer than this latentatlas"
    with pytest.raises(UserError, match=newer):
        ExploreState.load(old_run, views=["pca"], progress=False)


@pytest.mark.parametrize("value", ["2", 1.5, True, -1])
def test_a_format_that_is_no_number_is_one_line(old_run, capsys, value):
    atomic_write_json(old_run / "run.json", {**state_of(old_run), FORMAT_KEY: value})
    rc, out, err = run_cli(capsys, "report", old_run)
    assert_one_line_error(rc, err, f"{old_run / 'run.json'} has {FORMAT_KEY} {value!r}", "not a run format")


# -- the migrations: version 0 (a folder: run before colour) -------------------------------------

def _folder_run(path: Path, data: dict) -> RunDir:
    path.mkdir()
    (path / "config.json").write_text(json.dumps({"data": {"name": "folder:/photos", "image_size": 16, **data}}))
    return RunDir(path)


def test_a_format_0_folder_is_read_through_migration_1_and_stays_0(tmp_path):
    rd = _folder_run(tmp_path / "old", {})
    assert rd.format_version() == 0
    assert rd.config_section("data")["color"] == "grey" and rd.config_section("data")["fit"] == "legacy"
    assert "color" not in rd.read_config()["data"]                 # config.json as written
    rd.update_metrics("probes", {"logreg": {"accuracy": 0.5}})
    assert not (tmp_path / "old" / "run.json").exists()             # fit "legacy" cannot be written down
    rd.write_state({"stages": {}})
    assert state_of(tmp_path / "old") == {"stages": {}} and rd.format_version() == 0
    assert rd.config_section("data")["fit"] == "legacy"


def test_a_format_1_folder_records_the_version_at_its_first_write(tmp_path):
    rd = _folder_run(tmp_path / "new", {"color": "auto", "fit": "crop"})
    assert rd.format_version() == 1 and not (tmp_path / "new" / "run.json").exists()
    rd.update_metrics("probes", {})
    assert state_of(tmp_path / "new") == {FORMAT_KEY: FORMAT_VERSION}
    assert RunDir(tmp_path / "new").format_version() == FORMAT_VERSION
    RunDir(tmp_path / "new").write_state({"stages": {"train": {}}})  # a later run.json keeps it
    assert state_of(tmp_path / "new") == {FORMAT_KEY: FORMAT_VERSION, "stages": {"train": {}}}
    assert RunDir(tmp_path / "new").config_section("data")["color"] == "auto"


def test_a_folder_that_is_no_run_yet_records_nothing(tmp_path):
    rd = RunDir(tmp_path / "bare")
    rd.write_latents({"x": np.zeros(3)})                            # latents.npz alone: not a run
    assert sorted(p.name for p in (tmp_path / "bare").iterdir()) == ["latents.npz"]
