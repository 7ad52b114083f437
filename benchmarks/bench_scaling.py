"""How the cost of each analysis step grows with the number of codes (issue 14, item 5).

    python benchmarks/bench_scaling.py                                  # 10k, 70k, 300k, 1M; every step
    python benchmarks/bench_scaling.py --sizes 10000,70000 --steps knn,tsne,svm --backend torch
    python benchmarks/bench_scaling.py --run runs/vae10 --out scaling.json

Each (size, step) runs in a child process of its own, so its peak resident memory
(`os.wait4`'s ru_maxrss of that child: data, libraries and the step together) is the
step's alone. Codes: a run's latent means (`--run`, its latents.npz; the first N of one
seeded permutation) up to the size it has, and above that (or without --run) synthetic
16-d codes from a 10-component Gaussian mixture. Steps are those of `latentatlas analyze`
with its defaults, so where analyze switches to an approximation above a size (the kNN graph by
nearest-neighbour descent above knn_exact_max_samples, 2-D t-SNE on a 20,000-point subsample,
the Nystroem SVM above svm_exact_max_samples, quality measures on 5,000 points) the step does
too and says so.

Prints time (s) and peak memory (MB) per step and size, then each step's growth exponent:
the slope of log(time) against log(N) over the sizes. N log N has a slope of about 1.1 between
10k and 1M; a step above 1.2 is flagged unless it switched to an approximation.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

STEPS = ("knn", "pca", "lda", "tsne", "umap", "svm", "logreg", "knn-probe", "gmm", "kmeans", "n2d", "quality")
NLOGN_SLOPE = 1.2          # N log N is ~1.1 on 10k..1M; timing noise on a shared machine adds some
TSNE_MAX, SVM_EXACT_MAX, QUALITY_MAX = 20000, 70000, 5000   # AnalysisConfig's defaults


# -- the child: one step on one size ------------------------------------------------------------

def _codes(n: int, run: str | None, seed: int = 0):
    """(X float32 (n, d), y int, source words): a run's codes if it has n, else the 16-d mixture."""
    import numpy as np

    if run:
        from latentatlas.stages.encode import features, load_latents

        lat = load_latents(Path(run))
        X = np.concatenate([features(lat, "train", "mean"), features(lat, "test", "mean")]).astype(np.float32)
        y = np.concatenate([lat["train_labels"], lat["test_labels"]])
        if n <= len(X):
            idx = np.random.default_rng(seed).permutation(len(X))[:n]
            return X[idx], y[idx], f"run codes ({X.shape[1]}-d)"
    rng = np.random.default_rng(seed)
    means = rng.normal(0, 4.0, (10, 16))                        # 10 well-separated components
    scales = rng.uniform(0.5, 1.5, (10, 16))
    y = rng.integers(0, 10, n)
    X = (means[y] + rng.standard_normal((n, 16)) * scales[y]).astype(np.float32)
    return X, y, "synthetic 16-d mixture"


def _run_step(step: str, X, y, backend: str, jobs: int, layout: str = "auto",
              gradient: str = "auto") -> tuple[float, str]:
    """Seconds of the step (setup excluded) and a note naming any approximation it switched to;
    `layout`: AnalysisConfig.umap_layout for UMAP and N2D (auto: as analyze picks for `jobs`);
    `gradient`: t-SNE's negative_gradient_method (auto: as analyze picks)."""
    from latentatlas.estimators.cluster import make_clusterer
    from latentatlas.estimators.probe import make_probe
    from latentatlas.estimators.neighbors import KNN_EXACT_MAX, graph_method, knn_graph
    from latentatlas.estimators.project import make_projection, projection_quality, umap_layout

    n, note = len(X), ""
    layout = umap_layout(layout, jobs)
    n_train = n * 6 // 7                                          # MNIST's 60k / 10k split
    graph = None
    if step in ("umap", "n2d"):
        graph = knn_graph(X, 20, random_state=0, n_jobs=jobs, backend=backend)   # shared in analyze: untimed
    t0 = time.perf_counter()
    if step == "knn":
        knn_graph(X, 15, random_state=0, n_jobs=jobs, backend=backend, exact_max_samples=KNN_EXACT_MAX)
        if backend == "cpu" and graph_method(n, X.shape[1], KNN_EXACT_MAX) != "exact":
            note = f"approximation: pynndescent (umap-learn's recipe) above {KNN_EXACT_MAX:,} codes"
    elif step in ("pca", "lda", "umap"):
        make_projection(step, 2, random_state=0, n_jobs=jobs, knn=graph, backend=backend, umap_layout=layout).fit(X, y)
    elif step == "tsne":
        if n > TSNE_MAX:
            X, y, note = X[:TSNE_MAX], y[:TSNE_MAX], f"approximation: seeded subsample of {TSNE_MAX:,} points"
        est = make_projection("tsne", 2, random_state=0, n_jobs=jobs, backend=backend,
                              negative_gradient_method=gradient).fit(X, y)
        note = "; ".join(x for x in (note, getattr(est, "gradient_method_", "")) if x)
    elif step in ("svm", "logreg", "knn-probe"):
        probe = make_probe(step.replace("-probe", ""), random_state=0, n_jobs=jobs, backend=backend,
                           exact_max_samples=SVM_EXACT_MAX, knn_exact_max_samples=KNN_EXACT_MAX
                           ).fit(X[:n_train], y[:n_train])
        probe.score(X[n_train:], y[n_train:])
        if step == "svm" and "Nystroem" in probe.solver_:
            note = f"approximation: Nystroem + linear SVM above {SVM_EXACT_MAX:,} training codes"
            if "subsample" in probe.solver_:
                note += f", the linear SVM on a seeded {probe.nystroem_max_samples:,} of them"
        if step == "knn-probe" and "approximate" in probe.solver_:
            note = f"approximation: pynndescent search above {KNN_EXACT_MAX:,} training codes"
    elif step in ("gmm", "kmeans", "n2d"):
        make_clusterer(step, 10, random_state=0, n_init=5, n_jobs=jobs, knn=graph, backend=backend,
                       layout=layout).fit(X)
    elif step == "quality":
        tr = __import__("numpy").arange(n) < n_train
        projection_quality(X, X[:, :2], y, tr, max_samples=QUALITY_MAX, random_state=0, n_jobs=jobs)
        if n > QUALITY_MAX:
            note = f"approximation: scored on a seeded subsample of {QUALITY_MAX:,} points"
    return time.perf_counter() - t0, note


def child(args) -> None:
    from latentatlas.runtime import thread_limits

    if args.mem_limit_gb:   # a step over the limit fails with MemoryError instead of swapping the machine out
        import resource

        limit = int(args.mem_limit_gb * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    X, y, source = _codes(args.size, args.run)
    with thread_limits(args.jobs):
        seconds, note = _run_step(args.child, X, y, args.backend, args.jobs, args.umap_layout, args.tsne_gradient)
    print(json.dumps({"seconds": seconds, "note": note, "source": source}))


# -- the parent: a child per (size, step), the table, the exponents -----------------------------

class _Popen(subprocess.Popen):
    """Popen that reaps its child with os.wait4, keeping the child's own ru_maxrss (KB on Linux)."""

    def _try_wait(self, wait_flags):
        try:
            pid, sts, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid == self.pid:
            self._peak_mb = round(usage.ru_maxrss / 1024, 1)
        return pid, sts


def _measure(size: int, step: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", step, "--size", str(size), "--backend", args.backend,
           "--jobs", str(args.jobs), "--umap-layout", args.umap_layout,
           "--tsne-gradient", args.tsne_gradient] + (["--run", args.run] if args.run else []) \
        + (["--mem-limit-gb", str(args.mem_limit_gb)] if args.mem_limit_gb else [])
    t0 = time.perf_counter()
    proc = _Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"size": size, "step": step, "error": f"over {args.timeout} s"}
    rss_mb = getattr(proc, "_peak_mb", None)
    row = {"size": size, "step": step, "peak_mb": rss_mb, "wall": round(time.perf_counter() - t0, 2)}
    if proc.returncode != 0:
        row["error"] = (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return row
    row.update(json.loads(out.strip().splitlines()[-1]))
    return row


def exponent(rows: list[dict]) -> float | None:
    """Least-squares slope of log(seconds) against log(N)."""
    pts = [(math.log(r["size"]), math.log(max(r["seconds"], 1e-4))) for r in rows if "seconds" in r]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def report(rows: list[dict], sizes: list[int], steps: list[str]) -> dict:
    """Print the table and the exponents; return {step: {exponent, flag, notes}}."""
    print(f"\n{'step':<10s}" + "".join(f"{s:>22,d}" for s in sizes) + "   exponent")
    print(f"{'':<10s}" + "".join(f"{'s / peak MB':>22s}" for _ in sizes))
    summary = {}
    for step in steps:
        mine = [r for r in rows if r["step"] == step]
        cells = []
        for size in sizes:
            r = next((r for r in mine if r["size"] == size), None)
            if r is None:
                cells.append(f"{'-':>22s}")
            elif "error" in r:
                cells.append(f"{'failed':>22s}")
            else:
                cells.append(f"{r['seconds']:>11.2f} / {r['peak_mb']:>7,.0f}")
        slope = exponent(mine)
        notes = sorted({r["note"] for r in mine if r.get("note")})
        flag = ""
        if slope is not None and slope > NLOGN_SLOPE:
            flag = " (approximation above a size, stated)" if notes else " FASTER THAN N log N"
        summary[step] = {"exponent": None if slope is None else round(slope, 2), "flag": flag.strip(), "notes": notes}
        print(f"{step:<10s}" + "".join(cells) + f"   {'-' if slope is None else f'{slope:.2f}'}{flag}")
    for step, s in summary.items():
        for n in s["notes"]:
            print(f"  {step}: {n}")
    for r in rows:
        if "error" in r:
            print(f"  {r['step']} at {r['size']:,}: {r['error']}")
    sources = sorted({f"{r['size']:,}: {r['source']}" for r in rows if r.get("source")})
    print("  codes: " + "; ".join(sources))
    return summary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,70000,300000,1000000", help="comma-separated numbers of codes")
    ap.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, from {', '.join(STEPS)}")
    ap.add_argument("--backend", default="cpu", choices=("cpu", "torch", "auto"))
    ap.add_argument("--jobs", type=int, default=None, help="threads (default: every usable core)")
    ap.add_argument("--umap-layout", default="auto", choices=("auto", "seeded", "parallel"),
                    help="UMAP's and N2D's layout, as analyze's --umap-layout (default auto: parallel from 4 jobs)")
    ap.add_argument("--tsne-gradient", default="auto", choices=("auto", "fft", "bh"),
                    help="t-SNE's gradient (default auto, as analyze: FFT below 4 jobs, Barnes-Hut from 4)")
    ap.add_argument("--run", default=None, help="a run folder whose latents.npz gives the codes up to its size")
    ap.add_argument("--out", default=None, help="write the rows and exponents as JSON here")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per (size, step) before it is given up")
    ap.add_argument("--mem-limit-gb", type=float, default=None,
                    help="address-space limit of each child (GB): a step above it fails instead of swapping")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    from latentatlas.runtime import resolve_jobs
    from latentatlas.errors import UserError
    from latentatlas.estimators.backends import resolve_backend

    try:
        args.jobs = resolve_jobs(args.jobs)
        args.backend = resolve_backend(args.backend)
    except UserError as exc:
        print(f"bench_scaling: error: {exc}", file=sys.stderr)
        return 2
    if args.child:
        child(args)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    bad = [s for s in steps if s not in STEPS]
    if bad or not sizes or min(sizes) < 100:
        print(f"bench_scaling: error: steps from {', '.join(STEPS)}; sizes of at least 100", file=sys.stderr)
        return 2
    from latentatlas.estimators.project import umap_layout

    print(f"backend {args.backend}, {args.jobs} jobs, UMAP layout {umap_layout(args.umap_layout, args.jobs)}; "
          "one child process per (size, step)", flush=True)
    rows = []
    for size in sizes:
        for step in steps:
            row = _measure(size, step, args)
            rows.append(row)
            what = row.get("error") or f"{row['seconds']:.2f} s, peak {row['peak_mb']:,.0f} MB {row.get('note', '')}"
            print(f"  {size:>9,d} {step:<10s} {what}", flush=True)
            if args.out:            # rows so far, so that a long run stopped early still leaves them
                Path(args.out).write_text(json.dumps({"backend": args.backend, "jobs": args.jobs, "rows": rows}))
    summary = report(rows, sizes, steps)
    if args.out:
        Path(args.out).write_text(json.dumps({"backend": args.backend, "jobs": args.jobs, "rows": rows,
                                              "exponents": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
