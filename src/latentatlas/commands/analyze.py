"""`latentatlas analyze RUN_DIR`: project, probe and cluster a run's latent codes.

    latentatlas analyze runs/vae10                          everything (encodes first if needed)
    latentatlas analyze runs/vae10 --projections pca:2,lda:3 --probes svm --clusterers none
    latentatlas analyze runs/vae10 --features mu+logvar     study 001's [mu, log sigma^2] codes
    latentatlas analyze runs/vae10 --only probes            one part only

Writes metrics.json sections "projections", "probes", "clustering" and the
figures in RUN_DIR/figures/ (PNG; interactive 3-D plots as offline HTML).
Each step's wall time is printed as it ends.
"""

from __future__ import annotations

import argparse

from . import HelpFormatter

PARTS = ("projections", "probes", "clustering")

# option dest -> AnalysisConfig field
OPTION_KEYS = {
    "features": "features", "projections": "projections", "projection_max_samples": "projection_max_samples",
    "tsne_max_samples": "tsne_max_samples", "tsne_3d_max_samples": "tsne_3d_max_samples", "raw_max_samples": "raw_max_samples",
    "quality_max_samples": "quality_max_samples", "probes": "probes", "svm_solver": "svm_solver",
    "svm_exact_max_samples": "svm_exact_max_samples", "clusterers": "clusterers", "cluster_split": "cluster_split",
    "n_clusters": "n_clusters", "covariance_type": "covariance_type", "n_init": "n_init",
    "n2d_neighbors": "n2d_neighbors", "hover_images": "hover_images", "analysis_seed": "seed",
    "n_jobs": "n_jobs",
}


def _list(text: str) -> list[str]:
    """"a,b, c" -> ["a", "b", "c"]; "none" or "" -> []."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    return [] if items == ["none"] else items


def add_analysis_args(p: argparse.ArgumentParser) -> None:
    """Analysis options; every default is None = "not given" (preset/config/dataclass default applies)."""
    g = p.add_argument_group("analysis")
    g.add_argument("--features", default=None, choices=("mean", "mu+logvar", "z"),
                   help="codes analysed: AE codes / VAE means; VAE [mu, logvar]; sampled z [default: mean]")
    g.add_argument("--projections", type=_list, default=None, metavar="LIST",
                   help="METHOD:DIMS list, METHOD in pca, lda, tsne, umap; 'none' to skip "
                        "[default: pca:2,pca:3,lda:2,lda:3,tsne:2,umap:2]")
    g.add_argument("--projection-max-samples", type=int, default=None, metavar="N",
                   help="fit projections on a seeded subsample of N codes [default: all]")
    g.add_argument("--tsne-max-samples", type=int, default=None, metavar="N",
                   help="2-D t-SNE on a seeded subsample of N codes; 0 = all [default: 20000]")
    g.add_argument("--tsne-3d-max-samples", type=int, default=None, metavar="N",
                   help="3-D t-SNE (Barnes-Hut) subsample [default: 10000]")
    g.add_argument("--no-raw", dest="raw_baseline", action="store_false", default=None,
                   help="skip the raw-pixel projections (the 'before')")
    g.add_argument("--raw-max-samples", type=int, default=None, metavar="N",
                   help="raw-pixel projections on a seeded subsample of N images [default: 5000]")
    g.add_argument("--quality-max-samples", type=int, default=None, metavar="N",
                   help="points scored by kNN accuracy / silhouette / trustworthiness [default: 5000]")
    g.add_argument("--probes", type=_list, default=None, metavar="LIST",
                   help="svm, logreg, knn; 'none' to skip [default: svm,logreg,knn]")
    g.add_argument("--svm-solver", default=None, choices=("auto", "exact", "nystroem"),
                   help="exact RBF SVC, or a Nystroem kernel map + linear SVM; auto picks by size [default: auto]")
    g.add_argument("--svm-exact-max-samples", type=int, default=None, metavar="N",
                   help="'auto' uses the exact SVC up to N training codes [default: 70000]")
    g.add_argument("--clusterers", type=_list, default=None, metavar="LIST",
                   help="gmm, kmeans, n2d; 'none' to skip [default: gmm,kmeans,n2d]")
    g.add_argument("--cluster-split", default=None, choices=("all", "train", "test"),
                   help="codes clustered [default: all = train + test]")
    g.add_argument("--n-clusters", type=int, default=None, metavar="K", help="[default: number of classes]")
    g.add_argument("--covariance-type", default=None, choices=("full", "tied", "diag", "spherical"),
                   help="Gaussian mixture covariance [default: full]")
    g.add_argument("--n-init", type=int, default=None, help="GMM / k-means restarts [default: 5]")
    g.add_argument("--n2d-neighbors", type=int, default=None, help="N2D's UMAP n_neighbors [default: 20]")
    g.add_argument("--no-interactive", dest="interactive", action="store_false", default=None,
                   help="no plotly 3-D HTML figures")
    g.add_argument("--hover-images", type=int, default=None, metavar="N",
                   help="points per interactive figure that show their image on hover [default: 2000]")
    g.add_argument("--analysis-seed", type=int, default=None, help="seed of every subsample and estimator [default: 0]")
    g.add_argument("--n-jobs", type=int, default=None, help="threads for kNN, t-SNE, UMAP [default: 2]")


def analysis_config_from_args(args, base=None):
    """AnalysisConfig: `base` (an AnalysisConfig or dict, e.g. a preset's) updated by the options given."""
    from dataclasses import asdict, is_dataclass

    from ..config import AnalysisConfig, build_dataclass

    values = asdict(base) if is_dataclass(base) else dict(base or {})
    for dest, key in OPTION_KEYS.items():
        value = getattr(args, dest, None)
        if value is not None:
            values[key] = value
    if values.get("tsne_max_samples") == 0:                # 0 on the command line: every code
        values["tsne_max_samples"] = None
    for dest in ("raw_baseline", "interactive"):
        if getattr(args, dest, None) is not None:
            values[dest] = getattr(args, dest)
    only = getattr(args, "only", None)
    if only:
        for part, key in (("projections", "projections"), ("probes", "probes"), ("clustering", "clusterers")):
            if part not in only:
                values[key] = []
    return build_dataclass(AnalysisConfig, values, "analysis", "options")


def add_parser(sub):
    p = sub.add_parser("analyze", help="project, probe and cluster a run's latent codes",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a trained run folder (encoded first if needed)")
    p.add_argument("--only", type=_list, default=None, metavar="PARTS",
                   help=f"run only these parts: {', '.join(PARTS)} (comma-separated)")
    add_analysis_args(p)
    return p


def run(args) -> int:
    from ..errors import UserError
    from ..latent.analyze import analyze_run
    from ..rundir import CONFIG, RunDir, read_json

    for part in args.only or []:
        if part not in PARTS:
            raise UserError(f"--only {part!r}: choose from {', '.join(PARTS)}")
    rd = RunDir(args.run_dir)
    base = None
    if (rd / CONFIG).exists():  # the run's own [analysis] settings, then the options given here
        config = read_json(rd / CONFIG)
        base = config.get("analysis") if isinstance(config, dict) else None
    cfg = analysis_config_from_args(args, base)
    out = analyze_run(rd.path, cfg)
    _summary(out)
    return 0


def _summary(out: dict) -> None:
    print(f"features: {out['features']}")
    for key, m in out.get("probes", {}).items():
        if isinstance(m, dict) and "accuracy" in m:
            print(f"probe   {key:<7s} accuracy {m['accuracy']:.4f}  macro F1 {m['f1']:.4f}  ({m['solver']})")
    for key, m in out.get("clustering", {}).items():
        if isinstance(m, dict) and "accuracy" in m:
            print(f"cluster {key:<7s} accuracy {m['accuracy']:.4f}  NMI {m['nmi']:.4f}  ARI {m['ari']:.4f}")
    for key, m in out.get("projections", {}).items():
        if isinstance(m, dict) and "raw" in m and "latent" in m:
            r, lat = m["raw"], m["latent"]
            print(f"{key:<8s} raw -> latent: kNN accuracy {r['knn_accuracy']:.3f} -> {lat['knn_accuracy']:.3f}, "
                  f"silhouette {r['silhouette']:.3f} -> {lat['silhouette']:.3f}, "
                  f"trustworthiness {r['trustworthiness']:.3f} -> {lat['trustworthiness']:.3f}")
