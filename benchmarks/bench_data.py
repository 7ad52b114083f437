"""Data layer speed: loading MNIST / Fashion-MNIST, the sample, a subset, verification.

    python benchmarks/bench_data.py [--data-dir DIR] [--repeats 5]

Prints the median wall time of each step over `repeats` runs (the machine may be
shared: medians, and the ratios between steps measured in the same run, are what
to quote). Needs the full datasets (--data-dir or $LATENTATLAS_DATA).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("LATENTATLAS_DATA"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    if not args.data_dir:
        print("bench_data: give --data-dir or set LATENTATLAS_DATA (the full MNIST files)", file=sys.stderr)
        return 2

    from latentatlas.data import load_dataset, sources
    from latentatlas.data.idx import parse_idx, read_raw_bytes

    root = Path(args.data_dir)
    loc = sources.locate("mnist", root)
    x_path = loc.paths["x_train"]
    r = args.repeats
    rows = [
        ("read+gunzip train images (47 MB)", median_seconds(lambda: read_raw_bytes(x_path), r)),
    ]
    raw = read_raw_bytes(x_path)
    rows += [
        ("parse IDX train images (frombuffer+copy)", median_seconds(lambda: parse_idx(raw, "x"), r)),
        ("load_dataset('mnist') 60k+10k", median_seconds(lambda: load_dataset("mnist", data_dir=root), r)),
        ("load_dataset('fashion-mnist')", median_seconds(lambda: load_dataset("fashion-mnist", data_dir=root), r)),
        ("load_dataset('mnist', classes='1,4,8')",
         median_seconds(lambda: load_dataset("mnist", data_dir=root, classes="1,4,8"), r)),
        ("load_dataset('mnist-sample')", median_seconds(lambda: load_dataset("mnist-sample"), r)),
        ("load_dataset('mnist', image_size=32)",
         median_seconds(lambda: load_dataset("mnist", data_dir=root, image_size=32), max(1, r // 2))),
        ("verify mnist (SHA-256 of 55 MB decompressed)",
         median_seconds(lambda: sources.verify_files("mnist", loc.paths), r)),
    ]
    print(f"data layer, median of {r} runs, data from {root}")
    for label, sec in rows:
        print(f"  {label:<48} {sec * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
