"""benchmarks/gpu_check.sh's training part on this CPU at tiny sizes: every row printed, none failed.
(Its cores part is checked with bench_cores, in test_bench_cores.py.)"""

import re

from gpu_check_helpers import run_gpu_check


def test_gpu_check_script_runs_on_the_cpu_with_tiny_sizes(tmp_path):
    res = run_gpu_check(tmp_path, "training")
    table = res.stdout
    for row in ("default VAE s/epoch", "default VAE 5-epoch test loss", "deep-ae (Muon) s/epoch",
                "pythae", "run --dataset", "--compile none", "gpu-vae"):
        assert row in table, row
    assert "failed" not in table and "timed out" not in table, table
    assert "missing:" not in table, table           # every package a row needs is installed here
    # the Pythae comparison ran (pythae is in the test extras): a ratio, not "skipped"
    assert re.search(r"^pythae: .*\|\s*[0-9.]+x\s*\|", table, re.M), table
    assert "Traceback" not in res.stdout + res.stderr
