"""benchmarks/bench_cores.py (issue 14, item 2): the same analysis with 1 and 2 jobs, timed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


from latentatlas.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_bench_cores_times_each_job_count_and_the_figures_do_not_move(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--dataset", "mnist-sample", "--max-train-images", "512", "--epochs", "1", "--threads", "1",
                 "--out", str(run), "--progress-every", "0"]) == 0
    assert main(["encode", str(run)]) == 0
    before = {f: (f.stat().st_size, f.stat().st_mtime_ns) for f in run.rglob("*")}
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_cores.py"), "--run", str(run),
                          "--jobs", "1,2", "--one-process", "--work", str(tmp_path / "work"), "--out", str(tmp_path / "cores.json"),
                          "--", "--projections", "pca:2", "--probes", "knn", "--clusterers", "kmeans", "--no-raw",
                          "--no-interactive", "--quality-max-samples", "300", "--lanes", "on"],
                         capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    assert "the whole analyze (process wall time)" in res.stdout and "1 jobs s" in res.stdout
    got = json.loads((tmp_path / "cores.json").read_text())
    assert set(got["wall_s"]) == {"1", "2", "2-one-process"} and all(s > 0 for s in got["wall_s"].values())
    assert "2 1 proc s" in res.stdout
    # neither the thread count nor the lanes are settings of the result: the same figures with 1 and
    # 2 jobs in lanes (--lanes on) and with 2 jobs in one process (--one-process: --lanes off wins)
    logs = [(tmp_path / "work" / f"analyze-{k}.log").read_text() for k in ("1", "2", "2-one-process")]
    assert ["lanes:" in log for log in logs] == [True, True, False]
    m1, m2, m3 = (json.loads((tmp_path / "work" / f"jobs{k}" / "metrics.json").read_text())
                  for k in ("1", "2", "2-one-process"))
    for m in (m2, m3):
        assert m1["probes"]["knn"]["accuracy"] == m["probes"]["knn"]["accuracy"]
        assert m1["clustering"]["kmeans"]["accuracy"] == m["clustering"]["kmeans"]["accuracy"]
        assert m1["projections"]["pca_2d"]["latent"] == m["projections"]["pca_2d"]["latent"]
    # the run folder it read from is untouched
    assert {f: (f.stat().st_size, f.stat().st_mtime_ns) for f in run.rglob("*")} == before


def test_bench_cores_says_what_is_missing_in_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_cores.py"), "--run", str(tmp_path / "run"),
                          "--work", str(tmp_path / "work")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert res.returncode == 1 and res.stderr.strip().count("\n") == 0
    assert "has no latents.npz" in res.stderr and "latentatlas encode" in res.stderr
