"""One tiny sweep on a local Ray (the module's fixture, built once), and what a user sees of it.

The grid: latent sizes 2 and 3, 0 (refused: the driver records it without Ray) and a billion (its
weights do not fit in memory: the trial fails inside its Ray worker, in one line), on 300 images of
the embedded "mnist-sample", 1 epoch, the smallest analysis. Ray's temp files go to a short folder
in /tmp and its token lives in the environment: nothing is written into $HOME.
"""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from cache_helpers import session_cache_dir
from sweep_helpers import RAY_TOKEN, TINY

pytest.importorskip("ray.tune")

from latentatlas.sweeps import SWEEP_REPORT, SweepFolder, run_sweep, sweep_spec  # noqa: E402

GRID = {"model.latent_dim": [2, 3, 0, 10**9]}


def _home_state() -> dict:
    home = Path.home()
    return {p: p.stat().st_mtime_ns for p in (home / ".ray", home / "ray_results", home / ".ray" / "auth_token")
            if p.exists()}


def _keywords(tables: dict) -> dict:
    """TINY as la.sweep's keywords (dataset=, model=, epochs=, ...)."""
    out = {"dataset": tables["data"]["name"], "model": tables["model"]["name"]}
    for section in ("train", "analysis"):
        out.update(tables[section])
    out.update(tables["generate"])
    out["test_fraction"] = tables["data"]["test_fraction"]
    return out


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "sw"
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")        # Ray's socket paths must stay short
    home_before = _home_state()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_TMPDIR", ray_tmp)
        mp.setenv("RAY_AUTH_TOKEN", RAY_TOKEN)                   # else Ray writes ~/.ray/auth_token
        mp.setenv("LATENTATLAS_CACHE", str(session_cache_dir(tmp_path_factory)))
        mp.setenv("MPLBACKEND", "Agg")
        mp.delenv("RAY_ADDRESS", raising=False)
        t0 = time.perf_counter()
        summary = run_sweep(out, sweep_spec(GRID), preset="default-vae", tables=[TINY], cpus_per_trial=1,
                            quiet=True)
        seconds = time.perf_counter() - t0
        stamps = {n: SweepFolder(out).read_record(n)["finished"] for n in summary["trials"]}
        import latentatlas as la

        # the same sweep again, through the Python API: everything is reused, Ray does not start
        again = la.sweep(grid=GRID, out=out, preset="default-vae", quiet=True,
                         **_keywords(TINY))
    shutil.rmtree(ray_tmp, ignore_errors=True)
    return {"out": out, "summary": summary, "again": again, "seconds": seconds, "home_before": home_before,
            "stamps": stamps}


def test_every_trial_is_run_or_recorded_and_the_failures_do_not_stop_the_others(sweep):
    trials = sweep["summary"]["trials"]
    assert trials == {"latent_dim=2": "ok", "latent_dim=3": "ok", "latent_dim=0": "failed",
                      "latent_dim=1000000000": "failed"}
    folder = SweepFolder(sweep["out"])
    oom = folder.read_record("latent_dim=1000000000")
    assert "can't allocate memory" in oom["error"] and "\n" not in oom["error"] and oom["node"]
    refused = folder.read_record("latent_dim=0")
    assert "latent size must be at least 1" in refused["error"] and refused["node"] is None
    assert sorted(sweep["summary"]["ran"]) == ["latent_dim=1000000000", "latent_dim=2", "latent_dim=3"]


def test_each_trial_is_an_ordinary_run_folder_with_its_own_report(sweep):
    from latentatlas.rundir import RunDir

    run = RunDir(sweep["out"] / "trials" / "latent_dim=3")
    assert (run.path / "report.html").is_file() and run.has("model.safetensors", "latents.npz")
    config = run.read_config()
    assert config["model"]["latent_dim"] == 3 and config["train"]["epochs"] == 1
    assert config["train"]["threads"] == 1 and config["analysis"]["n_jobs"] == 1    # its share of the cores
    record = SweepFolder(sweep["out"]).read_record(run.path.name)
    assert record["node"] and record["seconds"] > 0 and record["pid"] != os.getpid()   # ran in a Ray worker
    assert abs(record["ended_at"] - record["started_at"] - record["seconds"]) < 1.0     # its place in time


def test_the_same_sweep_again_through_la_sweep_reuses_every_trial_and_returns_a_dataframe(sweep):
    table = sweep["again"]
    assert len(table) == 4 and list(table["status"]) == [sweep["summary"]["trials"][n] for n in table["name"]]
    folder = SweepFolder(sweep["out"])
    ran_again = [n for n, stamp in sweep["stamps"].items()
                 if folder.read_record(n)["finished"] != stamp and n != "latent_dim=0"]
    assert ran_again == []              # the refused ones are recorded afresh, without Ray
    ok = table[table["status"] == "ok"]
    run = ok["run"].iloc[0]
    assert run.metrics["train"]["epochs"] == 1 and run.config["model"]["latent_dim"] in (2, 3)
    assert table.attrs["report"].endswith("sweep.html")
    assert ok["test_loss"].notna().all() and table.loc[table["status"] == "failed", "run"].isna().all()


def test_a_trial_is_finished_only_with_its_record_settings_and_report(sweep, tmp_path):
    src = SweepFolder(sweep["out"])
    name = "latent_dim=2"
    record = src.read_record(name)
    assert src.finished(name, record["config_hash"])
    assert not src.finished(name, "another-hash")
    copy = SweepFolder(tmp_path / "copy")
    shutil.copytree(src.path, copy.path)
    (copy.trial_dir(name) / "report.html").unlink()         # killed before its report: runs again
    assert not copy.finished(name, record["config_hash"])


def test_sweep_json_holds_the_grid_and_every_trial(sweep):
    data = json.loads((sweep["out"] / "sweep.json").read_text())
    assert data["grid"] == GRID and data["seeds"] == 1
    assert len(data["trials"]) == 4 and data["ray"]["cpus"] >= 1 and data["ray"]["nodes"] == 1
    assert data["ray"]["ready_at"] < min(SweepFolder(sweep["out"]).read_record(n)["started_at"]
                                         for n in ("latent_dim=2", "latent_dim=3"))
    assert data["ray"]["start_seconds"] > 0 and data["ray"]["stop_seconds"] >= 0


def test_the_table_has_every_figure_and_the_failures(sweep):
    from latentatlas.sweeps.summary import as_dataframe, sweep_rows

    rows = {r["name"]: r for r in sweep_rows(sweep["out"])}
    ok = rows["latent_dim=3"]
    for key in ("test_loss", "test_mse", "test_bpd", "probe_accuracy", "cluster_accuracy", "cluster_nmi",
                "test_kl", "test_recon", "seconds"):
        assert isinstance(ok[key], float), key
    assert len(ok["kl_per_dim"]) == 3 and 0 <= ok["active_dims"] <= 3 and 1 <= ok["pca_90"] <= ok["pca_95"] <= 3
    assert rows["latent_dim=0"]["status"] == "failed" and rows["latent_dim=0"].get("test_loss") is None
    table = as_dataframe(list(rows.values()), list(GRID))
    assert list(table.columns[:3]) == ["name", "model.latent_dim", "status"]
    assert (table["status"] == "ok").sum() == 2 and table["error"].notna().sum() == 2


def test_the_sweep_report_is_one_file_with_every_part(sweep):
    text = (sweep["out"] / SWEEP_REPORT).read_text()
    for part in ('id="best"', 'id="trials"', 'id="against"', 'id="rate-distortion"', 'id="active"', 'id="maps"'):
        assert part in text, part
    assert 'href="trials/latent_dim%3D3/report.html"' in text
    assert "latent size must be at least 1" in text and "can&#x27;t allocate memory" in text
    assert "http://" not in text and "https://" not in text.replace("https://docs", "")   # nothing fetched
    assert text.count("data:image/png;base64,") >= 4


def test_the_sweep_report_in_chromium(sweep):
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed (`make test` installs Debian's chromium when run as root)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((sweep["out"] / SWEEP_REPORT).resolve().as_uri())
        page.wait_for_load_state("load")
        drawn = page.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth > 100).length")
        rows = page.locator("table.trials tr").count()
        link = page.locator('table.trials a[href*="latent_dim%3D2/"]').first.get_attribute("href")
        browser.close()
    assert errors == []
    assert drawn >= 4 and rows == 5
    assert (sweep["out"] / link.replace("%3D", "=")).is_file()


def test_compare_accepts_a_sweep_folder(sweep, capsys):
    from latentatlas.cli import main

    assert main(["compare", str(sweep["out"])]) == 0
    out = capsys.readouterr().out
    assert "latent_dim=2 " in out and "latent_dim=3 " in out and "latent_dim=0" not in out


def test_ray_wrote_nothing_into_home(sweep):
    assert _home_state() == sweep["home_before"]
    assert not list(Path(sweep["out"]).glob("tune/*/*/*.csv"))        # no per-trial logger files
