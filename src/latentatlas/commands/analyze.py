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

from dataclasses import replace

from ..settings import add_section_options
from ..settings.fields import csv_list
from . import HelpFormatter, add_wait_option

PARTS = ("projections", "probes", "clustering")


def analysis_config_from_args(args, base: dict | None = None):
    """AnalysisConfig: `base` (a preset's or the run's [analysis] table) updated by the options given;
    --only empties the lists of the parts not asked for."""
    from ..settings import resolve_sections

    cfg = resolve_sections(("analysis",), {"analysis": dict(base or {})}, args=args)["analysis"]
    only = getattr(args, "only", None)
    if only:
        cfg = replace(cfg, **{key: [] for part, key in (("projections", "projections"), ("probes", "probes"),
                                                        ("clustering", "clusterers")) if part not in only})
    return cfg


def add_parser(sub):
    p = sub.add_parser("analyze", help="project, probe and cluster a run's latent codes",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a trained run folder (encoded first if needed)")
    p.add_argument("--only", type=csv_list, default=None, metavar="PARTS",
                   help=f"run only these parts: {', '.join(PARTS)} (comma-separated)")
    add_section_options(p, "analysis", own=True)
    add_wait_option(p)
    return p


def run(args) -> int:
    from ..errors import UserError
    from ..stages.analyze import analyze_run
    from ..rundir import RunDir

    for part in args.only or []:
        if part not in PARTS:
            raise UserError(f"--only {part!r}: choose from {', '.join(PARTS)}")
    rd = RunDir(args.run_dir)
    # The run's own [analysis] settings (a preset's choices), then the options given here.
    cfg = analysis_config_from_args(args, rd.config_section("analysis"))
    out = analyze_run(rd.path, cfg, wait=args.wait)
    _summary(out)
    return 0


def _summary(out: dict) -> None:
    print(f"features: {out['features']}")
    for key, m in out.get("probes", {}).items():
        if isinstance(m, dict) and "solver" in m:
            print(f"probe   {key:<7s} accuracy {m['accuracy']:.4f}  balanced {m['balanced_accuracy']:.4f}  "
                  f"macro F1 {m['f1']:.4f}  ({m['solver']})")
    base = out.get("probes", {}).get("majority_baseline")
    if base:
        print(f"probe   majority-class baseline ({base['class']}): accuracy {base['accuracy']:.4f}  "
              f"balanced {base['balanced_accuracy']:.4f}  macro F1 {base['f1']:.4f}")
    for key, m in out.get("clustering", {}).items():
        if isinstance(m, dict) and "accuracy" in m:
            print(f"cluster {key:<7s} accuracy {m['accuracy']:.4f}  balanced {m['balanced_accuracy']:.4f}  "
                  f"NMI {m['nmi']:.4f}  ARI {m['ari']:.4f}  (majority baseline {m['majority_baseline']['accuracy']:.4f})")
    for key, m in out.get("projections", {}).items():
        if isinstance(m, dict) and "raw" in m and "latent" in m:
            r, lat = m["raw"], m["latent"]
            print(f"{key:<8s} raw -> latent: kNN accuracy {r['knn_accuracy']:.3f} -> {lat['knn_accuracy']:.3f}, "
                  f"silhouette {r['silhouette']:.3f} -> {lat['silhouette']:.3f}, "
                  f"trustworthiness {r['trustworthiness']:.3f} -> {lat['trustworthiness']:.3f}")
