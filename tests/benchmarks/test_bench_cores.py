"""benchmarks/bench_cores.py (issue 14, item 2): the same analysis with 1 and 2 jobs, timed, run
through gpu_check.sh's cores part, which prints its rows from it (one run serves both checks);
and its one-line refusal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from gpu_check_helpers import run_gpu_check


ROOT = Path(__file__).resolve().parents[2]


def test_bench_cores_says_what_is_missing_in_one_line(tmp_path):
    (tmp_path / "run").mkdir()
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_cores.py"), "--run", str(tmp_path / "run"),
                          "--work", str(tmp_path / "work")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert res.returncode == 1 and res.stderr.strip().count("\n") == 0
    assert "has no latents.npz" in res.stderr and "latentatlas encode" in res.stderr


def test_gpu_check_cores_part_prints_both_rows_and_bench_cores_keeps_the_figures(tmp_path):
    """GPU_CHECK_ONLY=cores (item 2): every core against 2 jobs, and one process against lanes,
    through benchmarks/bench_cores.py (one run of it serves both: it is the suite's costliest
    script). Neither the thread count nor the lanes are settings of the result."""
    res = run_gpu_check(tmp_path, "cores")
    assert re.search(r"every core vs 2 jobs \(whole analyze\)\s*\|\s*[0-9.]+x", res.stdout), res.stdout
    assert re.search(r"every core: one process / lanes \(wall\)\s*\|\s*[0-9.]+x", res.stdout), res.stdout
    assert "failed" not in res.stdout and "Traceback" not in res.stdout + res.stderr
    bench = (tmp_path / "cores.log").read_text()
    assert "the whole analyze (process wall time)" in bench and "1 jobs s" in bench and "2 1 proc s" in bench
    got = json.loads((tmp_path / "cores.json").read_text())
    assert set(got["wall_s"]) == {"1", "2", "2-one-process"} and all(s > 0 for s in got["wall_s"].values())
    work = tmp_path / "cores"
    logs = [(work / f"analyze-{k}.log").read_text() for k in ("1", "2", "2-one-process")]
    assert ["lanes:" in log for log in logs] == [True, True, False]      # --one-process: --lanes off wins
    m1, m2, m3 = (json.loads((work / f"jobs{k}" / "metrics.json").read_text()) for k in ("1", "2", "2-one-process"))
    for m in (m2, m3):
        assert m1["probes"]["knn"]["accuracy"] == m["probes"]["knn"]["accuracy"]
        assert m1["clustering"]["kmeans"]["accuracy"] == m["clustering"]["kmeans"]["accuracy"]
        assert m1["projections"]["pca_2d"]["latent"] == m["projections"]["pca_2d"]["latent"]
    # the run folder bench_cores read from is untouched: nothing in it newer than its encoding
    encoded = (tmp_path / "cores-train.log").stat().st_mtime_ns
    assert max(f.stat().st_mtime_ns for f in (tmp_path / "cores-run").rglob("*")) <= encoded
