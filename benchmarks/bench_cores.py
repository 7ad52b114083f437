"""Every core (issue 14, item 2): one run's CPU-only analysis with 2 jobs and with every core.

    python benchmarks/bench_cores.py                      # trains default-vae on MNIST first (--epochs 5)
    python benchmarks/bench_cores.py --run runs/mnist     # a run that has its codes (latents.npz)
    python benchmarks/bench_cores.py --run runs/mnist --jobs 2,8,16
    python benchmarks/bench_cores.py --run RUN --jobs 1,2 -- --projections pca:2 --no-raw   # analyze's options
    python benchmarks/bench_cores.py --run RUN --one-process    # also every core in one process (--lanes off)

After a small warm-up analysis per job count (numba compiles UMAP's functions once), for each
job count the run's model, settings and codes are copied into a fresh folder, and
`latentatlas analyze --backend cpu --jobs J` (its defaults otherwise) runs there as a child
process, timed around it. Per-step seconds come from that analysis's metrics.json. Prints one row
per step that took at least 0.5 s with the fewest jobs: the seconds per job count and the
speed-up, then the whole analysis. Target on a 16-core machine: the whole analysis at least 4x
faster with every core than with 2 jobs; on a 2-core machine both are the same count. From 8
jobs `analyze` runs its sections side by side (stages/analyze/scheduler.py); --one-process adds a column for
the most jobs with `--lanes off`, to see what the lanes give.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# a small analysis that compiles what numba compiles (UMAP, seeded and parallel layouts)
WARM_UP = ("--backend", "cpu", "--projections", "umap:2", "--probes", "none", "--clusterers", "none", "--no-raw",
           "--projection-max-samples", "1000", "--quality-max-samples", "200", "--no-interactive")
# what analyze reads from a run folder; the rest (figures, maps, the report) it writes itself
KEEP = ("config.json", "model.json", "model.safetensors", "latents.npz", "history.jsonl", "metrics.json")


def python_env() -> dict:
    src = Path(__file__).resolve().parents[1] / "src"
    return {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "LATENTATLAS_NO_BAR": "1", "MPLBACKEND": "Agg"}


def la(*args: str, log: Path) -> float:
    """Seconds of one latentatlas command in a child process; exits with its last line on failure."""
    t0 = time.perf_counter()
    with log.open("w") as f:
        rc = subprocess.run([sys.executable, "-m", "latentatlas", *args], stdout=f, stderr=subprocess.STDOUT,
                            env=python_env()).returncode
    seconds = time.perf_counter() - t0
    if rc != 0:
        last = (log.read_text().strip().splitlines() or ["(no output)"])[-1]
        sys.exit(f"bench_cores: `latentatlas {' '.join(args)}` failed ({log}): {last}")
    return seconds


def trained_run(work: Path, epochs: int) -> Path:
    run = work / "trained"
    print(f"training default-vae on MNIST ({epochs} epochs) into {run} ...", flush=True)
    la("train", "--preset", "default-vae", "--dataset", "mnist", "--epochs", str(epochs), "--out", str(run),
       "--progress-every", "0", log=work / "train.log")
    la("encode", str(run), log=work / "encode.log")
    return run


def fresh_copy(run: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in KEEP:
        if (run / name).exists():
            shutil.copy2(run / name, dest / name)
    metrics = dest / "metrics.json"
    if metrics.exists():      # keep train/encode; the analysis sections are measured anew
        m = json.loads(metrics.read_text())
        for key in ("projections", "probes", "clustering"):
            m.pop(key, None)
        m["timings"] = {k: v for k, v in m.get("timings", {}).items() if not k.startswith("analyze.")}
        metrics.write_text(json.dumps(m))
    return dest


def analysis_seconds(run: Path) -> dict[str, float]:
    timings = json.loads((run / "metrics.json").read_text()).get("timings", {})
    return {k.removeprefix("analyze."): v for k, v in timings.items() if k.startswith("analyze.")}


def main(argv=None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from latentatlas.runtime import usable_cores

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a run folder with latents.npz (default: train one)")
    ap.add_argument("--jobs", default=None, help="job counts, comma-separated (default: 2 and every usable core)")
    ap.add_argument("--epochs", type=int, default=5, help="epochs when training the run (default 5)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the copies (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    ap.add_argument("--one-process", action="store_true",
                    help="also time the most jobs with --lanes off (the sections one after another)")
    ap.add_argument("analyze_options", nargs="*", help="after --: options for every `latentatlas analyze`")
    args = ap.parse_args(argv)
    cores = usable_cores()
    jobs = sorted({int(j) for j in args.jobs.split(",")} if args.jobs else {min(2, cores), cores})
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_cores."))
    work.mkdir(parents=True, exist_ok=True)
    run = args.run or trained_run(work, args.epochs)
    if not (run / "latents.npz").exists():
        sys.exit(f"bench_cores: {run} has no latents.npz; run `latentatlas encode {run}` first")

    # numba compiles umap-learn's functions on first use (cached on disk after): the first job
    # count measured would pay it alone. A small analysis with each count compiles them first.
    for j in jobs:
        la("analyze", str(fresh_copy(run, work / f"warm{j}")), "--jobs", str(j), *WARM_UP, log=work / f"warm-{j}.log")
    # (key in the JSON and folder name, jobs, extra options, column title)
    columns = [(str(j), j, (), f"{j} jobs") for j in jobs]
    if args.one_process:
        columns.append((f"{jobs[-1]}-one-process", jobs[-1], ("--lanes", "off"), f"{jobs[-1]} 1 proc"))
    walls, steps = {}, {}
    for key, j, extra, _ in columns:
        copy = fresh_copy(run, work / f"jobs{key}")
        walls[key] = la("analyze", str(copy), "--backend", "cpu", "--jobs", str(j), *args.analyze_options, *extra,
                        log=work / f"analyze-{key}.log")
        steps[key] = analysis_seconds(copy)
        print(f"analyze --backend cpu --jobs {j} {' '.join(extra)}: {walls[key]:.1f} s", flush=True)

    few, many = str(jobs[0]), str(jobs[-1])
    import numpy as np

    with np.load(run / "latents.npz") as lat:
        n = len(lat["train_labels"]) + len(lat["test_labels"])
    print(f"\nrun: {run}; {cores} usable cores; {n:,} codes")
    print(f"{'step':<48s}" + "".join(f"{title + ' s':>13s}" for *_, title in columns) + f"{'speed-up':>10s}")
    for step in dict.fromkeys([k for key, *_ in columns for k in steps[key]]):
        if max(steps[key].get(step, 0) for key, *_ in columns) >= 0.5:
            row = "".join(f"{steps[key].get(step, float('nan')):>13.2f}" for key, *_ in columns)
            got = steps[many].get(step)
            ratio = f"{steps[few][step] / max(got, 1e-9):>9.1f}x" if got and step in steps[few] else f"{'':>10s}"
            print(f"{step[:48]:<48s}{row}{ratio}")
    row = "".join(f"{walls[key]:>13.1f}" for key, *_ in columns)
    print(f"{'the whole analyze (process wall time)':<48s}{row}{walls[few] / walls[many]:>9.1f}x"
          f"   target on 16 cores: >= 4x")
    if args.out:
        args.out.write_text(json.dumps({"run": str(run), "cores": cores, "wall_s": walls, "steps_s": steps}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
