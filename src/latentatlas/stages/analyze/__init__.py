"""`analyze_run`: project, probe and cluster a run's latent codes; write metrics and figures.

Reads `latents.npz` (encoding first if it is missing), writes the metrics.json
sections "projections", "probes" and "clustering" (each with its "figures"
list) and PNG / HTML figures in figures/. Every step is timed: printed as it
ends, stored in each section's "timings", and recorded with
`RunDir.record_timing("analyze.<step>", s)`.

Colour and factors: the raw-pixel baseline flattens every channel (C*H*W values per image,
3,072 for 32x32 RGB) of a seeded subsample (raw_max_samples); hover images keep their colour.
When the dataset knows per-image factors of variation (mnist-color's "hue"), the probes
section gains "factors": the best class probe's accuracy and, per factor, the R^2 of
regressors from the codes (estimators/factors.py); every 2-D projection gets a second PNG
coloured by the factor, and the 3-D figures a class / factor switch.

Sharing work: t-SNE, UMAP and N2D all start from a k-nearest-neighbour graph
of the same codes; it is built once (`estimators.neighbors.knn_graph`) and handed to each.
Subsets are seeded prefixes of ONE permutation of the points, so the
evaluation subset lies inside every fitted subset and the raw-pixel "before"
and latent "after" are scored on the very same points.

The package: context.py (what the sections share, read once), steps.py (timing, figure lists),
one module per section (projections.py with raw.py and spectrum.py, probes.py, clustering.py),
sections.py (the sections as typed units) and scheduler.py (one process or parallel lanes).
"""

from __future__ import annotations

from ...errors import UserError
from ...rundir import RunDir
from .context import forget_timings, open_analysis, subset, validated
from .scheduler import lane_plan, run_lanes, run_sections

__all__ = ["analyze_run", "subset"]


def analyze_run(run_dir, cfg=None, verbose: bool = True, wait: bool = False) -> dict:
    """Run the analysis `cfg` (an AnalysisConfig; default: everything) on a run directory,
    holding its lock (wait=True waits for another writer to finish)."""
    from ...runtime import thread_limits

    cfg = validated(cfg)
    rd = RunDir(run_dir)
    if not rd.path.is_dir():
        raise UserError(f"run directory {rd.path} does not exist")
    # Every pool (BLAS, numba for UMAP, torch) runs cfg.n_jobs threads, as the estimators do.
    with rd.lock(wait=wait, command="latentatlas analyze"), thread_limits(cfg.n_jobs):
        ctx = open_analysis(rd, cfg, verbose)
        forget_timings(rd, [name for name, on in (("projections", ctx.specs), ("probes", cfg.probes),
                                                  ("clustering", cfg.clusterers)) if on])
        plan = lane_plan(cfg, ctx.specs, ctx.images is not None)
        return run_lanes(ctx, plan) if plan else run_sections(ctx)
