"""A sweep on every core against the same trials one after another, how close the sweep comes to
the ideal, and where the rest of the time went.

    python benchmarks/bench_sweep.py                       # 8 tiny trials (latent sizes 2..9)
    python benchmarks/bench_sweep.py --trials 8 --images 2000 --epochs 1 --skip-sequential
    python benchmarks/bench_sweep.py --packing --dataset mnist   # on a GPU: 0.25 against 1 GPU per trial

1. one after another: each trial's settings through pipeline.run_pipeline in this process, on
   every core (what a loop of `latentatlas run` does), wall time summed;
2. the sweep: `run_sweep` on a local Ray, one core per trial, side by side.

The figure (the issue's): the ideal is the trials' summed CPU time (each trial's process time in
its Ray worker, from its record) divided by the cores; the trials' phase runs from the moment Ray
is ready (after its start-up, which is its own figure) to the end of the last trial (each record
holds its start and end on the wall clock); the figure is phase / ideal (1.0 = no core ever idle
and nothing else ran), and again from the first trial's start (the workers' boot then counts as
Ray's start-up). Ray's shut-down, the planning and the sweep report are outside it and printed
apart.

Where the rest went, from the same records: the workers' start (Ray ready -> first trial), the
cores' idle slot time between and after trials, and the trials' wait for a core (their wall time
over their CPU time). On a shared machine other work takes cores from the trials: with psutil,
the CPU that the machine spent outside this sweep's processes during the phase (/proc/stat minus
the sweep's process tree) is printed, and the figure again over the core-seconds it left.
Trials on the embedded "mnist-sample" (--dataset picks another).

--packing (gpu_check.sh's sweep row): the same trials twice on one GPU, with --gpus-per-trial
0.25 (four trials share the card) and with 1 (one at a time), the same cores per trial in both
(a quarter of them, so the cores let four run side by side); trials per minute over each sweep's
trials' phase (Ray ready -> the last trial's end, Ray's start-up left out) and their ratio, in
one line. Without CUDA it prints one line that the row is unmeasured (no GPU) and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


PACKED, ALONE = 0.25, 1.0     # --packing: GPUs per trial, four trials on the card against one


def tables(images: int, epochs: int, dataset: str = "mnist-sample") -> dict:
    return {"data": {"name": dataset}, "model": {"name": "vae"},
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


def _machine_busy() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Watch:
    """Samples (time, the machine's busy CPU seconds, this process tree's CPU seconds) every 0.5 s
    while the sweep runs; a process that ends keeps its last CPU time. The sampling thread's own CPU
    is left out of the tree's (it counts as other work: the sweep does not do it)."""

    def __init__(self):
        import psutil

        self.me, self.cpu, self.samples, self.own = psutil.Process(), {}, [], 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        import psutil

        while not self.stop.is_set():
            c0 = time.thread_time()
            for p in [self.me, *self.me.children(recursive=True)]:
                try:
                    t = p.cpu_times()
                    self.cpu[p.pid] = t.user + t.system
                except psutil.Error:
                    pass
            self.samples.append((time.time(), _machine_busy(), sum(self.cpu.values()) - self.own))
            self.own += time.thread_time() - c0
            self.stop.wait(0.5)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def between(self, t0: float, t1: float) -> tuple[float, float]:
        """(the machine's busy CPU s, this tree's CPU s) from the samples nearest t0 and t1."""
        a = min(self.samples, key=lambda s: abs(s[0] - t0))
        b = min(self.samples, key=lambda s: abs(s[0] - t1))
        return b[1] - a[1], b[2] - a[2]


def _imports(records: list) -> float:
    """Each worker's first trial's CPU time over its later trials' median (imports, first compiles)."""
    by_pid: dict = {}
    for r in sorted(records, key=lambda r: r["started_at"]):
        by_pid.setdefault(r["pid"], []).append(r["cpu_seconds"])
    extra = [c[0] - statistics.median(c[1:]) for c in by_pid.values() if len(c) > 1]
    return sum(extra) / len(extra) if extra else float("nan")


def timeline(records: list, ray: dict, cores: int, watch: Watch | None) -> dict:
    """The figure and its parts, from the trials' records and Ray's start (see the module's text)."""
    ready = ray["ready_at"]
    end = max(r["ended_at"] for r in records)
    phase = end - ready
    cpu = sum(r["cpu_seconds"] for r in records)
    wall = sum(r["seconds"] for r in records)
    first = min(r["started_at"] for r in records) - ready
    out = {"cpu": cpu, "ideal": cpu / cores, "phase": phase, "ratio": phase / (cpu / cores),
           "first": first, "ratio_first": (phase - first) / (cpu / cores), "idle": phase * cores - wall,
           "wait": wall - cpu, "imports": _imports(records), "workers": len({r["pid"] for r in records})}
    if watch is not None and watch.samples:
        busy, tree = watch.between(ready, end)
        out["others"] = max(0.0, busy - tree)
        out["ours_outside"] = tree - cpu
        out["left"] = phase * cores - out["others"]
        out["ratio_left"] = out["left"] / cpu
    return out


def _watch() -> Watch | None:
    try:
        return Watch()
    except ImportError:
        return None


def print_figures(args, cores: int, summary: dict, t: dict, wall: float, seq: float | None) -> None:
    ray = summary["ray"] or {}
    print(f"{args.trials} trials ({t['ok']} ok), {args.images} images x {args.epochs} epoch(s), {cores} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    if seq is not None:
        print(f"one after another (every core each): {seq:7.1f} s")
    print(f"sweep on Ray, 1 core per trial:     {wall:7.1f} s   (Ray start-up {ray.get('start_seconds', 0):.1f} s, "
          f"shut-down {ray.get('stop_seconds', 0):.1f} s; planning and the sweep report included)")
    if seq is not None:
        print(f"speed-up of the sweep:              {seq / wall:7.2f}x")
    print(f"ideal = the trials' CPU time {t['cpu']:.1f} s / {cores} cores = {t['ideal']:.1f} s; the trials' phase "
          f"(Ray ready -> last trial's end) {t['phase']:.1f} s = {t['ratio']:.2f}x the ideal")
    print(f"  in the phase: {t['workers']} workers started their first trial {t['first']:.1f} s after Ray was "
          f"ready; the cores' slots idle {t['idle']:.1f} s in all; the trials waited {t['wait']:.1f} s for a core "
          f"(wall over CPU); each worker's first trial {t['imports']:.1f} s more CPU (imports)")
    print(f"  from the first trial's start (the workers' boot counted as Ray's start-up, "
          f"{ray.get('start_seconds', 0) + t['first']:.1f} s then): {t['ratio_first']:.2f}x the ideal")
    if "others" in t:
        print(f"  the machine's other work took {t['others']:.1f} of the phase's {t['phase'] * cores:.1f} "
              f"core-seconds; this sweep's processes outside its trials (Ray, the driver) {t['ours_outside']:.1f} s; "
              f"over the core-seconds left ({t['left']:.1f}): {t['ratio_left']:.2f}x the ideal")


def trials_per_minute(records: list, ready_at: float) -> float:
    """Trials finished per minute of the trials' phase: Ray ready -> the last trial's end."""
    return 60.0 * len(records) / (max(r["ended_at"] for r in records) - ready_at)


def packing_line(packed: float | None, alone: float | None, trials: int) -> str:
    """gpu_check.sh's sweep row, in one line: each rate and their ratio, or why it is unmeasured."""
    what = f"packing ({trials} trials, {PACKED:g} vs {ALONE:g} GPU per trial):"
    if packed is None or alone is None:
        return f"{what} unmeasured (no GPU)"
    return (f"{what} {packed:.1f} trials/min packed, {alone:.1f} trials/min one at a time, "
            f"ratio {packed / alone:.2f}x")


def _one_sweep(root: Path, spec, base: dict, cpus: float, gpus: float) -> float:
    """One sweep on a fresh local Ray; its trials per minute (every trial must end ok)."""
    from latentatlas.sweeps import SweepFolder, run_sweep

    summary = run_sweep(root, spec, preset=None, tables=[base], cpus_per_trial=cpus, gpus_per_trial=gpus,
                        quiet=True)
    folder = SweepFolder(summary["sweep_dir"])
    records = [folder.read_record(n) for n in summary["trials"]]
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        raise SystemExit(f"bench_sweep: {len(failed)} trial(s) failed at {gpus:g} GPU per trial: "
                         f"{failed[0]['error']}")
    return trials_per_minute(records, summary["ray"]["ready_at"])


def packing(args) -> int:
    """--packing: the same trials at 0.25 and at 1 GPU per trial (see the module's text)."""
    import torch

    if not torch.cuda.is_available():
        print(packing_line(None, None, args.trials))
        return 0
    from latentatlas.runtime import usable_cores
    from latentatlas.sweeps import sweep_spec

    cpus = max(1, usable_cores() // 4)
    spec = sweep_spec({"model.latent_dim": list(range(2, 2 + args.trials))})
    base = tables(args.images, args.epochs, args.dataset)
    base["train"]["device"] = "cuda"
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        packed = _one_sweep(Path(tmp) / "packed", spec, base, cpus, PACKED)
        alone = _one_sweep(Path(tmp) / "alone", spec, base, cpus, ALONE)
    print(f"{torch.cuda.get_device_name(0)}, {cpus} cores per trial, {args.images} images x {args.epochs} epoch(s)")
    print(packing_line(packed, alone, args.trials))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--images", type=int, default=2000, help="training images per trial")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--skip-sequential", action="store_true", help="only the sweep (and its ideal)")
    ap.add_argument("--dataset", default="mnist-sample", help="the trials' data (default: mnist-sample)")
    ap.add_argument("--packing", action="store_true",
                    help=f"on a GPU: {PACKED:g} against {ALONE:g} GPU per trial, trials per minute (gpu_check.sh)")
    args = ap.parse_args(argv)
    if args.packing:
        return packing(args)

    from latentatlas.runtime import usable_cores
    from latentatlas.sweeps import SweepFolder, run_sweep, sweep_spec

    os.environ.setdefault("MPLBACKEND", "Agg")
    cores = usable_cores()
    spec = sweep_spec({"model.latent_dim": list(range(2, 2 + args.trials))})
    base = tables(args.images, args.epochs, args.dataset)
    watch = _watch()
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = Path(tmp)
        seq = None if args.skip_sequential else sequential(root / "sequential", spec, base)
        t0 = time.perf_counter()
        with watch or contextlib.nullcontext():
            summary = run_sweep(root / "sweep", spec, preset=None, tables=[base], cpus_per_trial=1, quiet=True)
        wall = time.perf_counter() - t0
        folder = SweepFolder(summary["sweep_dir"])
        records = [folder.read_record(n) for n in summary["trials"]]
    figures = timeline([r for r in records if r["status"] == "ok"], summary["ray"], cores, watch)
    figures["ok"] = sum(r["status"] == "ok" for r in records)
    print_figures(args, cores, summary, figures, wall, seq)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
