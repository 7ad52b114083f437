"""Wall time of `latentatlas run`, stage by stage: the demo and our defaults on full MNIST.

    python benchmarks/bench_run.py                    # demo + `run --dataset mnist`
    python benchmarks/bench_run.py --only demo        # the demo alone
    python benchmarks/bench_run.py --fresh-cache      # count the judge's one-off training too
    python benchmarks/bench_run.py --only mnist-color --only cifar10-demo    # colour (issue 15)
    python benchmarks/bench_run.py --only cifar10-demo --synthetic-cifar     # no CIFAR-10 at hand

Budgets on a 2-core CPU: the demo within 3 minutes (full MNIST when found, else the
embedded sample), `run --dataset mnist` within 12 minutes, analysis of all 70,000
images included; in colour, the demo's settings on mnist-color (70,000 images 3x28x28) and
on 10,000 CIFAR-10 training images (plus its 10,000 test images) within 5 minutes each.
--synthetic-cifar writes a CIFAR-10 binary archive of random images (the official format
and sizes, not its pictures) and points the cifar10 run at it: its wall time is
representative, its quality figures mean nothing, and the summary says so. Each run goes into a new folder under --runs-dir; the judge's cache
is the usual one unless --fresh-cache (then a new, empty cache folder is used).
Prints each stage's seconds (from metrics.json), the wall and CPU seconds of the
whole command, and whether it kept within its budget.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = {
    "demo": (["--preset", "demo"], 180),
    "mnist": (["--dataset", "mnist"], 720),
    "mnist-color": (["--preset", "demo", "--dataset", "mnist-color", "--max-train-images", "60000"], 300),
    "cifar10-demo": (["--preset", "demo", "--dataset", "cifar10", "--max-train-images", "10000"], 300),
}


def synthetic_cifar(folder: Path) -> Path:
    """A cifar-10-binary.tar.gz of seeded random images in the official layout (5 x 10,000 training
    records, 10,000 test records, batches.meta.txt): for timing where the real archive is absent."""
    import io
    import tarfile

    import numpy as np

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar-10-binary.tar.gz"
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def add(tar, name, data: bytes):
        info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        add(tar, "batches.meta.txt", ("\n".join(names) + "\n").encode())
        for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
            labels = rng.integers(0, 10, (10000, 1), dtype=np.uint8)
            # Smooth class-tinted noise rather than white noise, so the autoencoder has something to learn.
            base = rng.integers(0, 256, (10000, 3, 8, 8), dtype=np.uint8).repeat(4, 2).repeat(4, 3)
            pixels = (base // 2 + labels[:, :, None, None] * 12).astype(np.uint8).reshape(10000, -1)
            add(tar, name, np.concatenate([labels, pixels], axis=1).tobytes())
    return path


def run_one(name: str, runs_dir: Path, env: dict) -> dict:
    argv, budget = RUNS[name]
    out = runs_dir / name
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "latentatlas", "run", *argv, "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    (runs_dir / f"{name}.log").write_text(proc.stdout)
    if proc.returncode != 0:
        print(proc.stdout[-3000:])
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}); log in {runs_dir / (name + '.log')}")
    metrics = json.loads((out / "metrics.json").read_text())
    state = json.loads((out / "run.json").read_text())
    return {"name": name, "cmd": " ".join(cmd[2:]), "wall": wall, "cpu": cpu, "budget": budget,
            "timings": metrics.get("timings", {}), "data_note": state.get("data_note"),
            "dataset": (metrics.get("data") or {}).get("name")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=sorted(RUNS), action="append", help="run only this one (repeatable)")
    ap.add_argument("--runs-dir", default=None, help="where the runs go (default: a new temporary folder)")
    ap.add_argument("--fresh-cache", action="store_true", help="use an empty cache (the judge trains anew)")
    ap.add_argument("--synthetic-cifar", action="store_true",
                    help="time cifar10-demo on random images in CIFAR-10's format (quality figures meaningless)")
    args = ap.parse_args(argv)
    runs_dir = Path(args.runs_dir or tempfile.mkdtemp(prefix="latentatlas-bench-run-"))
    runs_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.synthetic_cifar:
        archive = synthetic_cifar(runs_dir / "synthetic-data" / "cifar10")
        RUNS["cifar10-demo"] = (RUNS["cifar10-demo"][0] + ["--data-dir", str(archive.parent)], 300)
        print(f"cifar10-demo reads SYNTHETIC random images in CIFAR-10's format: {archive}")
    if args.fresh_cache:
        env["LATENTATLAS_CACHE"] = str(runs_dir / "cache")
    print(f"runs in {runs_dir}; LATENTATLAS_DATA={env.get('LATENTATLAS_DATA', '(unset)')}; "
          f"cache {env.get('LATENTATLAS_CACHE', '~/.cache/latentatlas')}; load average {os.getloadavg()[0]:.1f}")
    rows = [run_one(name, runs_dir, env) for name in (args.only or ["demo", "mnist"])]
    for r in rows:
        print(f"\nlatentatlas {r['cmd']}   (data: {r['dataset']})")
        if r["data_note"]:
            print(f"  {r['data_note']}")
        for stage, sec in r["timings"].items():
            if "." not in stage:  # stages; "stage.part.step" keys are steps inside them
                print(f"  {stage:<10} {sec:8.1f} s")
        verdict = "within" if r["wall"] <= r["budget"] else "OVER"
        print(f"  {'whole':<10} {r['wall']:8.1f} s wall, {r['cpu']:.1f} s CPU; {verdict} the budget of "
              f"{r['budget']} s")
        print(f"  (on an idle 2-core machine the wall time lies between CPU/2 = {r['cpu'] / 2:.0f} s "
              f"and CPU = {r['cpu']:.0f} s)")
    print(f"\nload average now {os.getloadavg()[0]:.1f} (timings on a shared machine are noisy)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
