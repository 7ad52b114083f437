"""The scheduler: the analysis sections in one process, or side by side in lanes on many cores.

Step by step, the analysis stops gaining from threads long before 16 cores: measured from 1 to
2 jobs on 70,000 MNIST codes, t-SNE's Barnes-Hut gradient gains 1.81x (its tree is built on
one thread), the mixtures nothing, and the figures and quality measures run on one thread
(about 12 s in all). Amdahl's law per step then caps 16 cores at about 2.5-3x over 2 jobs.
The sections themselves are independent, and so is t-SNE (the longest step) from the other
projections, so from LANES_MIN_JOBS jobs `analyze` runs them at once, each lane on its share of
the cores (LANE_WEIGHTS; at 16 jobs 6, 4, 2 and 4):

    tsne          the t-SNE projections (own kNN search, figures)      a worker process
    projections   the other projections (PCA, LDA, UMAP)              this process
    side          the probes, then the raw-pixel baseline             a worker process
    clustering    GMM, k-means, N2D (with its own kNN graph)          a worker process

The workers come from joblib's loky pool (fork + exec, so no BLAS/OpenMP/numba pool state is
inherited, and no `if __name__ == "__main__"` is needed in a user's script). A worker reads the
run folder (the only contract between stages), writes its figures, and returns its sections;
only this process writes metrics.json. Processes rather than threads: each has its own BLAS,
OpenMP and numba pools, so no lane's thread limit or numba's threading layer can disturb
another. Each algorithm is chosen by the whole --jobs (`choice_jobs`), not by the lane's share,
and a lane computes what one process on the lane's threads computes (tests hold the metrics of
both ways equal); fewer BLAS threads move results in the last bits, as any --jobs does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...errors import UserError
from .context import AnalysisContext, open_analysis
from .projections import merge_projections, merge_raw, projections_section, raw_section
from .sections import asked

LANES_MIN_JOBS = 8
# Shares by the work each lane does on one thread and how much of it threads speed up, from the
# 70,000 MNIST codes on 1 and 2 threads: t-SNE's Barnes-Hut ~94 s (90 % parallel), the other
# projections ~50 s, N2D with its graph ~60 s, probes and raw baseline ~30 s (60 % parallel).
LANE_WEIGHTS = {"tsne": 3, "projections": 2, "side": 1, "clustering": 2}


def run_sections(ctx: AnalysisContext) -> dict:
    """Every section asked for, in this process; each lands in metrics.json as soon as it is
    done, so a later failure keeps it."""
    out = {"features": ctx.cfg.features}
    for section in asked(ctx.cfg, ctx.specs):
        out[section.name] = section.run(ctx)
        ctx.rd.update_metrics(section.name, out[section.name])
    return out


def shares(n_jobs: int, weights: list[int]) -> list[int]:
    """n_jobs split by weight, each lane at least 1, the rest to the heaviest lane."""
    total = sum(weights)
    out = [max(1, n_jobs * w // total) for w in weights]
    top = weights.index(max(weights))
    out[top] = max(1, out[top] + n_jobs - sum(out))
    return out


def lane_plan(cfg, specs, has_images: bool) -> dict | None:
    """{"jobs": {lane: threads}, "raw": whether the raw baseline moves to the side lane}, or
    None where one process does it all (--lanes off, auto below LANES_MIN_JOBS, fewer than two
    lanes). --lanes on splits any job count (lanes of one thread share the cores then)."""
    if cfg.lanes == "off" or (cfg.lanes == "auto" and cfg.n_jobs < LANES_MIN_JOBS) or not specs:
        return None
    raw = bool(cfg.raw_baseline and has_images)
    tsne = any(method == "tsne" for method, _ in specs)
    lanes = (["projections"] + (["tsne"] if tsne else []) + (["side"] if raw or cfg.probes else [])
             + (["clustering"] if cfg.clusterers else []))
    if len(lanes) < 2:
        return None
    return {"jobs": dict(zip(lanes, shares(cfg.n_jobs, [LANE_WEIGHTS[name] for name in lanes]))), "raw": raw}


@dataclass(frozen=True)
class LaneRequest:
    """What a worker needs to run one lane: the run folder and the lane's own settings."""

    run: str
    cfg: object                          # the AnalysisConfig, n_jobs the lane's share
    lane: str                            # "tsne", "side" or "clustering"
    raw: bool                            # the side lane also runs the raw-pixel baseline
    choice_jobs: int
    verbose: bool


def run_lanes(ctx: AnalysisContext, plan: dict) -> dict:
    """The sections in lanes (module docstring); metrics.json written once all are back."""
    from joblib.externals.loky import ProcessPoolExecutor

    from ...runtime import thread_limits

    cfg, jobs = ctx.cfg, plan["jobs"]
    if ctx.verbose:
        print("lanes: " + ", ".join(f"{name} on {n} threads" for name, n in jobs.items())
              + f" (--jobs {cfg.n_jobs}: sections side by side)", flush=True)
    requests = [_request(ctx, name, n, plan["raw"]) for name, n in jobs.items() if name != "projections"]
    pool = ProcessPoolExecutor(max_workers=len(requests))
    ok = False
    try:
        futures = [(request.lane, pool.submit(run_lane, request)) for request in requests]
        mine = replace(ctx, specs=[s for s in ctx.specs if "tsne" not in jobs or s[0] != "tsne"],
                       cfg=replace(cfg, n_jobs=jobs["projections"]))
        with thread_limits(jobs["projections"]):
            projections = projections_section(mine, raw=not plan["raw"])
        results: dict = {}
        for lane, future in futures:
            results.update(finish(lane, future))
        ok = True
    finally:                            # this process failed first: the workers' work is moot
        pool.shutdown(wait=ok, kill_workers=not ok)
    return _merged(ctx, projections, mine.steps.figure_keys, results)


def _merged(ctx: AnalysisContext, projections: dict, keys: list, results: dict) -> dict:
    """The lanes' sections put together as one process writes them, then into metrics.json."""
    rd = ctx.rd
    if "tsne" in results:               # first: the raw baseline adds to the t-SNE entry
        part = results.pop("tsne")
        _record(rd, "projections", part["section"]["timings"])
        for view in part["maps"]:
            rd.add_map(view["view"], view["xy"], view["rows"])
        merge_projections(projections, keys, part["section"], part["figure_keys"], ctx.specs)
    if "raw" in results:
        _record(rd, "projections", results["raw"]["timings"])
        merge_raw(projections, results.pop("raw"))
    out = {"features": ctx.cfg.features}
    for section, result in [("projections", projections)] + [(s, results.get(s)) for s in ("probes", "clustering")]:
        if result is not None:
            if section != "projections":
                _record(rd, section, result["timings"])
            rd.update_metrics(section, result)
            out[section] = result
    return out


def _record(rd, section: str, timings: dict) -> None:
    """A lane's step timings, as its own process would have recorded them one by one."""
    rd.record_timings({f"analyze.{section}.{step}": seconds for step, seconds in timings.items()})


def _request(ctx: AnalysisContext, lane: str, n_jobs: int, raw: bool) -> LaneRequest:
    """One lane's request on `n_jobs` threads."""
    cfg = replace(ctx.cfg, n_jobs=n_jobs)            # t-SNE loads the data as the projections do
    if lane != "tsne":
        cfg = replace(cfg, interactive=False)                         # hover images are the projections'
    if lane == "clustering":
        cfg = replace(cfg, probes=[], raw_baseline=False)             # needs no image: loads none
    return LaneRequest(run=str(ctx.rd.path), cfg=cfg, lane=lane, raw=raw and lane == "side",
                       choice_jobs=ctx.choice_jobs, verbose=ctx.verbose)


def finish(lane: str, future) -> dict:
    """A lane's sections, once it is done; its UserError raised here as the same one line, a
    worker that died named with the way around it."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except UserError:
        raise
    except BrokenProcessPool as exc:      # the worker died (killed, out of memory, a crash)
        raise RuntimeError(f"the {lane} lane of the analysis stopped: its worker process died "
                           "(its error is printed above); --lanes off analyses in one process") from exc


def run_lane(request: LaneRequest) -> dict:
    """One lane, in a worker: its sections' results (timings and figures lists inside)."""
    from ...rundir import RunDir
    from ...runtime import thread_limits

    cfg = request.cfg
    with thread_limits(cfg.n_jobs):
        ctx = open_analysis(RunDir(request.run), cfg, request.verbose, choice_jobs=request.choice_jobs, lane=True)
        if request.lane == "clustering":
            from .clustering import clustering_section

            return {"clustering": clustering_section(ctx)}
        if request.lane == "tsne":
            ctx.specs = [s for s in ctx.specs if s[0] == "tsne"]
            section = projections_section(ctx, raw=False)
            return {"tsne": {"section": section, "maps": ctx.maps, "figure_keys": ctx.steps.figure_keys}}
        out = {}
        if cfg.probes:
            from .probes import probes_section

            out["probes"] = probes_section(ctx)
        if request.raw:
            out["raw"] = raw_section(ctx)
        return out
