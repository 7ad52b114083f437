"""benchmarks/gpu_check.sh run on this CPU at tiny sizes, for the tests of its parts."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_gpu_check(tmp_path, part: str):
    """benchmarks/gpu_check.sh's `part` on this CPU at tiny sizes; it must exit 0."""
    env = {**os.environ, "GPU_CHECK_ALLOW_CPU": "1", "GPU_CHECK_ONLY": part,
           "GPU_CHECK_WORK": str(tmp_path), "PYTHON": sys.executable}
    res = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh")], check=False, capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res
