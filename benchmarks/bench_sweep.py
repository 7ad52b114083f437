"""A sweep on every core against the same trials one after another, and how close the sweep comes
to the ideal.

    python benchmarks/bench_sweep.py                       # 8 tiny trials (latent sizes 2..9)
    python benchmarks/bench_sweep.py --trials 8 --images 2000 --epochs 1 --skip-sequential

1. one after another: each trial's settings through pipeline.run_pipeline in this process, on
   every core (what a loop of `latentatlas run` does), wall time summed;
2. the sweep: `run_sweep` on a local Ray, one core per trial, side by side.

Printed: both wall times and the speed-up; Ray's start-up; the ideal, i.e. the trials' summed CPU
time (each Ray worker's process time, from its record) divided by the cores; and the sweep's
trial phase over that ideal (1.0 = no core ever idle). Trials on the embedded "mnist-sample".
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def tables(images: int, epochs: int) -> dict:
    return {"data": {"name": "mnist-sample"}, "model": {"name": "vae"},
            "train": {"epochs": epochs, "max_train_images": images, "progress_every": 0, "progress_images": 16},
            "analysis": {"projections": ["pca:2"], "probes": ["logreg"], "clusterers": ["kmeans"],
                         "raw_baseline": False, "interactive": False, "n_init": 1, "quality_max_samples": 500,
                         "projection_max_samples": 2000},
            "generate": {"samplers": ["gaussian"], "judge": False, "tour": False, "traverse": False}}


def sequential(root: Path, spec, base: dict) -> float:
    """Every trial in this process, one after another, on every core (threads left to the run)."""
    from latentatlas.pipeline import run_pipeline
    from latentatlas.sweeps import plan_trials

    t0 = time.perf_counter()
    for trial in plan_trials(spec, None, [base]):
        run_pipeline(root / trial.name, trial.config, quiet=True)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--images", type=int, default=2000, help="training images per trial")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--skip-sequential", action="store_true", help="only the sweep (and its ideal)")
    args = ap.parse_args(argv)

    from latentatlas.runtime import usable_cores
    from latentatlas.sweeps import SweepFolder, run_sweep, sweep_spec

    os.environ.setdefault("MPLBACKEND", "Agg")
    cores = usable_cores()
    spec = sweep_spec({"model.latent_dim": list(range(2, 2 + args.trials))})
    base = tables(args.images, args.epochs)
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = Path(tmp)
        seq = None if args.skip_sequential else sequential(root / "sequential", spec, base)
        t0 = time.perf_counter()
        summary = run_sweep(root / "sweep", spec, preset=None, tables=[base], cpus_per_trial=1, quiet=True)
        wall = time.perf_counter() - t0
        folder = SweepFolder(summary["sweep_dir"])
        records = [folder.read_record(n) for n in summary["trials"]]
        ray_start = (summary["ray"] or {}).get("start_seconds") or 0.0
    cpu = sum(r.get("cpu_seconds") or 0.0 for r in records)
    ideal = cpu / cores
    phase = summary["seconds"] - ray_start          # the trials' phase: Ray started, until the last ended
    ok = sum(r["status"] == "ok" for r in records)
    print(f"{args.trials} trials ({ok} ok), {args.images} images x {args.epochs} epoch(s), {cores} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    if seq is not None:
        print(f"one after another (every core each): {seq:7.1f} s")
    print(f"sweep on Ray, 1 core per trial:     {wall:7.1f} s   (Ray start-up {ray_start:.1f} s)")
    if seq is not None:
        print(f"speed-up of the sweep:              {seq / wall:7.2f}x")
    print(f"ideal (trials' CPU time {cpu:.1f} s / {cores} cores): {ideal:.1f} s; the trials' phase took "
          f"{phase:.1f} s = {phase / ideal if ideal else float('nan'):.2f}x the ideal")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
