"""Run every benchmark script in this folder in turn; each prints its own figures.

    python benchmarks/run_all.py            # all of them
    python benchmarks/run_all.py train      # only bench_train.py

They need the full datasets (set LATENTATLAS_DATA or pass --data-dir to the
scripts) and take minutes each on a 2-core CPU.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(a in s.stem for a in argv)]
    failed = []
    for script in scripts:
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
