"""The analysis half of gpu_check.sh: CPU libraries against the torch backend on the same codes.

    python benchmarks/gpu_check_analysis.py --sizes 70000 --out analysis.json

Codes: a run's latent means (--run) or synthetic 16-d codes from a 10-component Gaussian mixture
(bench_scaling's), first 6/7 as the training split. t-SNE is fitted on the first 20,000 (analyze's
default tsne_max_samples), quality measured on 5,000 seeded points, as analyze does.
Prints one table (latentatlas.estimators.compare_backends.format_rows), a row at a time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    from bench_scaling import _codes

    from latentatlas.runtime import thread_limits, usable_cores
    from latentatlas.estimators.compare_backends import STEPS, compare, format_rows

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="70000")
    ap.add_argument("--run", default=None)
    ap.add_argument("--tsne-max", type=int, default=20000)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    rows = []
    jobs = usable_cores()
    with thread_limits(jobs):
        for n in (int(s) for s in args.sizes.split(",")):
            X, y, source = _codes(n, args.run)
            tr = __import__("numpy").arange(n) < n * 6 // 7
            m = min(n, args.tsne_max)
            print(f"codes: {source}, {n:,}; {jobs} CPU threads", flush=True)
            # step by step, each row printed (and saved) as it comes: a run stopped at its time
            # limit keeps what it measured
            for step in STEPS:
                got = compare(X[:m], y[:m], tr[:m], steps=(step,), n_jobs=jobs) if step == "tsne" else \
                    compare(X, y, tr, steps=(step,), n_jobs=jobs)
                lines = format_rows(got).splitlines()           # a header, then its rows
                print("\n".join(lines if not rows else lines[1:]), flush=True)
                rows += got
                if args.out:
                    Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
