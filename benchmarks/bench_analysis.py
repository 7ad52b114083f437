"""Latent-analysis figures and speed, printed from each run's metrics.json.

    python benchmarks/bench_analysis.py                       # train what is missing, analyze, print
    python benchmarks/bench_analysis.py --mnist runs/vae10 --skip-analyze   # print an analysed run's figures

Settings (each a run folder under --runs-dir, trained with its preset when it has no model):

    mnist     default-vae (latent 10) on full MNIST: SVM probe accuracy (study 001: 0.9316; ours >= 0.97),
              cluster accuracy + NMI of its means (for comparison), and the speed of `latentatlas
              analyze` with its default settings (<= 480 s, peak < 4 GB)
    mnist-ae  default-ae on full MNIST: N2D (autoencoder, UMAP, Gaussian mixture, as in its paper)
              cluster accuracy + NMI on all 70,000 codes, no labels used (N2D ~0.98; ours >= 0.97)
    fashion   n2d (N2D's own dense autoencoder) on Fashion-MNIST: N2D cluster accuracy (N2D 0.672
              published; ours >= 0.65)
    study003  study003-vae-148 (2-d latent, digits 1, 4, 8): Gaussian-mixture cluster accuracy (>= 0.97)

N2D's accuracy moves with UMAP's seed (on Fashion-MNIST by up to 0.1 between seeds), so for
mnist-ae and fashion the N2D estimator is also fitted to the run's codes with --n2d-seeds
seeds (0, 1, ...) and the median is the figure held against the target.

`analyze` runs as a child process so its wall time, CPU time and peak resident
memory (getrusage) are measured; per-step times come from metrics.json. On a
shared machine wall time depends on the load: CPU time / 2 estimates the wall
time on 2 free cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "mnist": {"preset": "default-vae", "options": []},
    "mnist-ae": {"preset": "default-ae", "options": []},
    "fashion": {"preset": "n2d", "options": []},
    "study003": {"preset": "study003-vae-148", "options": []},
}
# (what, where in metrics.json, target or None (printed for comparison only), published).
# Clustering is scored for N2D by name: picking the "best" clusterer by its accuracy
# would use the labels that unsupervised clustering may not see.
TARGETS = {
    "mnist": [("SVM probe accuracy (VAE latent 10)", ("probes", "svm", "accuracy"), 0.97, "study 001: 0.9316"),
              ("N2D cluster accuracy, VAE means", ("clustering", "n2d", "accuracy"), None, "VaDE 0.945")],
    "mnist-ae": [("N2D cluster accuracy, 70,000 AE codes", ("clustering", "n2d", "accuracy"), 0.97,
                  "N2D ~0.98"),
                 ("N2D cluster accuracy, median over seeds", ("seeds", "n2d", "median"), None, "N2D ~0.98")],
    "fashion": [("N2D cluster accuracy, 70,000 AE codes", ("clustering", "n2d", "accuracy"), None, "N2D 0.672"),
                ("N2D cluster accuracy, median over seeds", ("seeds", "n2d", "median"), 0.65, "N2D 0.672")],
    "study003": [("GMM cluster accuracy (2-d latent, 1/4/8)", ("clustering", "gmm", "accuracy"), 0.97,
                  "study 003: 'well separated'")],
}
CLUSTERERS = ("gmm", "kmeans", "n2d")


def latentatlas(*args: str) -> list[str]:
    return [sys.executable, "-m", "latentatlas", *args]


def child_run(cmd: list[str], log: Path) -> dict:
    """Run a command, its output to `log`; wall seconds, CPU seconds and peak RSS (GB) of the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        code = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {code}); see {log}")
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_gb": after.ru_maxrss / 1024 ** 2}


def lookup(metrics: dict, path) -> tuple[str, float | None]:
    section, name, key = path
    return name, ((metrics.get(section) or {}).get(name) or {}).get(key)


def n2d_over_seeds(run: Path, n_seeds: int, n_jobs: int) -> dict:
    """N2D with `analyze`'s default settings on the run's codes, once per UMAP seed."""
    import numpy as np

    from latentatlas.settings import AnalysisConfig
    from latentatlas.stages.analyze import subset as _subset
    from latentatlas.estimators.cluster import make_clusterer, score_clustering
    from latentatlas.estimators.neighbors import knn_graph

    z = np.load(run / "latents.npz")
    codes = np.concatenate([z["train_mean"], z["test_mean"]])
    labels = np.concatenate([z["train_labels"], z["test_labels"]])
    names = [str(c) for c in z["class_names"]]
    cfg = AnalysisConfig()
    order = _subset(len(codes), None, cfg.seed)    # analyze's point order: its seed gives analyze's own figure
    codes, labels = codes[order], labels[order]
    knn = knn_graph(codes, cfg.n2d_neighbors, random_state=cfg.seed, n_jobs=n_jobs)   # the graph analyze shares
    accs = []
    for seed in range(n_seeds):
        t0 = time.perf_counter()
        n2d = make_clusterer("n2d", n_clusters=len(names), random_state=seed, covariance_type=cfg.covariance_type,
                             n_init=cfg.n_init, n_neighbors=cfg.n2d_neighbors, n_jobs=n_jobs, knn=knn)
        score = score_clustering(labels, n2d.fit_predict(codes), names)
        accs.append(score["accuracy"])
        print(f"    N2D, UMAP seed {seed}: accuracy {score['accuracy']:.4f}  NMI {score['nmi']:.4f}  "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"accuracies": accs, "median": float(np.median(accs))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs-dir", default="runs/bench-analysis")
    p.add_argument("--only", default=",".join(SETTINGS), help="comma-separated: " + ", ".join(SETTINGS))
    for name in SETTINGS:
        p.add_argument(f"--{name}", default=None, metavar="RUN", help=f"an existing run for '{name}'")
    p.add_argument("--skip-analyze", action="store_true", help="only print what metrics.json holds")
    p.add_argument("--analyze-options", default="", help="extra options for `latentatlas analyze`")
    p.add_argument("--n2d-seeds", type=int, default=5, help="UMAP seeds for N2D's median (mnist-ae, fashion); 0 skips")
    p.add_argument("--n-jobs", type=int, default=2, help="threads for UMAP in the seed sweep")
    args = p.parse_args(argv)
    if not os.environ.get("LATENTATLAS_DATA"):
        print("note: LATENTATLAS_DATA is not set; the full datasets must be found another way", file=sys.stderr)

    rows, speed = [], None
    for name in [s.strip() for s in args.only.split(",") if s.strip()]:
        run = Path(getattr(args, name.replace("-", "_")) or Path(args.runs_dir) / name)
        if not (run / "model.safetensors").exists():
            run.parent.mkdir(parents=True, exist_ok=True)
            print(f"[{name}] training {SETTINGS[name]['preset']} into {run} ...", flush=True)
            child_run(latentatlas("train", "--preset", SETTINGS[name]["preset"], *SETTINGS[name]["options"],
                                  "--out", str(run)), run.parent / f"{name}.train.log")
        if not args.skip_analyze:
            print(f"[{name}] latentatlas analyze {run} ...", flush=True)
            if not (run / "latents.npz").exists():
                child_run(latentatlas("encode", str(run)), run.parent / f"{name}.encode.log")
            # the run's own [analysis] preset settings apply; for MNIST force the full default
            # analysis (every projection, all probes and clusterers) so the speed figure means it
            extra = args.analyze_options.split()
            if name == "mnist":
                extra = ["--projections", "pca:2,pca:3,lda:2,lda:3,tsne:2,umap:2", "--probes", "svm,logreg,knn",
                         "--clusterers", "gmm,kmeans,n2d", "--features", "mean", *extra]
            usage = child_run(latentatlas("analyze", str(run), *extra), run.parent / f"{name}.analyze.log")
            if name == "mnist":
                speed = usage
        metrics = json.loads((run / "metrics.json").read_text())
        if name in ("mnist-ae", "fashion") and args.n2d_seeds > 0:
            print(f"[{name}] N2D over {args.n2d_seeds} UMAP seeds on {run}/latents.npz:", flush=True)
            metrics["seeds"] = {"n2d": n2d_over_seeds(run, args.n2d_seeds, args.n_jobs)}
        for what, path, target, published in TARGETS[name]:
            which, value = lookup(metrics, path)
            rows.append((name, what, which, value, target, published))
        if name in ("mnist", "mnist-ae", "fashion"):
            for key in CLUSTERERS:
                entry = (metrics.get("clustering") or {}).get(key)
                if entry:
                    print(f"[{name}] {key:<7s} cluster accuracy {entry['accuracy']:.4f}  NMI {entry['nmi']:.4f}  "
                          f"ARI {entry['ari']:.4f}  ({entry['seconds']:.1f} s)")
        for key in ("svm", "logreg", "knn"):
            entry = (metrics.get("probes") or {}).get(key)
            if entry:
                print(f"[{name}] probe {key:<7s} accuracy {entry['accuracy']:.4f}  precision {entry['precision']:.4f}  "
                      f"recall {entry['recall']:.4f}  F1 {entry['f1']:.4f}  ({entry['solver']}, "
                      f"fit {entry['fit_seconds']:.1f} s)")
        if name == "mnist":
            timings = {k: v for k, v in (metrics.get("timings") or {}).items() if k.startswith("analyze.")}
            print(f"[mnist] analyze per step (s), {len(timings)} steps, sum {sum(timings.values()):.1f} s:")
            for k, v in sorted(timings.items(), key=lambda kv: -kv[1])[:15]:
                print(f"    {v:8.1f}  {k[len('analyze.'):]}")

    print("\nfigure                                        setting   method   ours     target  published")
    ok = True
    for name, what, which, value, target, published in rows:
        shown = f"{value:.4f}" if value is not None else "-"
        if target is None:
            print(f"{what:<45s} {name:<9s} {which:<8s} {shown:<8s} {'':7s} {published}  (for comparison)")
            continue
        good = value is not None and value >= target
        ok &= good
        print(f"{what:<45s} {name:<9s} {which:<8s} {shown:<8s} >={target:<5} {published}  "
              f"{'ok' if good else 'BELOW'}")
    if speed:
        print(f"analyze, full MNIST (70,000 codes), default analysis: wall {speed['wall_s']:.0f} s "
              f"(target <= 480 s), CPU {speed['cpu_s']:.0f} s (~{speed['cpu_s'] / 2:.0f} s on 2 free cores), "
              f"peak RSS {speed['peak_rss_gb']:.2f} GB (target < 4)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
