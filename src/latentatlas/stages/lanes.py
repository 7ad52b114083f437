"""Analysis lanes: on many cores, the sections that do not wait for each other run side by side.

Step by step, the analysis stops gaining from threads long before 16 cores: measured from 1 to
2 jobs on 70,000 MNIST codes, t-SNE's Barnes-Hut gradient gains 1.81x (its tree is built on
one thread), the mixtures nothing, and the figures and quality measures run on one thread
(about 12 s in all). Amdahl's law per step then caps 16 cores at about 2.5-3x over 2 jobs.
The sections themselves are independent, and so is t-SNE (the longest step) from the other
projections, so from LANES_MIN_JOBS jobs `analyze` runs them at once, each lane on its share of
the cores (LANE_WEIGHTS; at 16 jobs 6, 4, 2 and 4):

    tsne          the t-SNE projections (own kNN search, figures)      a child process
    projections   the other projections (PCA, LDA, UMAP)              this process
    side          the probes, then the raw-pixel baseline             a child process
    clustering    GMM, k-means, N2D (with its own kNN graph)          a child process

A child is `python -m latentatlas.stages.lanes ARGS.json`: it reads the run folder (the only
contract between stages), writes its figures, and hands its sections back as JSON; only this
process writes metrics.json. Processes rather than threads: each has its own BLAS, OpenMP and
numba pools, so no lane's thread limit or numba's threading layer can disturb another. Each
algorithm is chosen by the whole --jobs (`choice_jobs`), not by the lane's share, and a lane
computes what one process on the lane's threads computes (tests/test_lanes.py holds the metrics
of both ways equal); fewer BLAS threads move results in the last bits, as any --jobs does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from ..errors import UserError

LANES_MIN_JOBS = 8
# Shares by the work each lane does on one thread and how much of it threads speed up, from the
# 70,000 MNIST codes on 1 and 2 threads: t-SNE's Barnes-Hut ~94 s (90 % parallel), the other
# projections ~50 s, N2D with its graph ~60 s, probes and raw baseline ~30 s (60 % parallel).
LANE_WEIGHTS = {"tsne": 3, "projections": 2, "side": 1, "clustering": 2}


def shares(n_jobs: int, weights: list[int]) -> list[int]:
    """n_jobs split by weight, each lane at least 1, the rest to the heaviest lane."""
    total = sum(weights)
    out = [max(1, n_jobs * w // total) for w in weights]
    top = weights.index(max(weights))
    out[top] = max(1, out[top] + n_jobs - sum(out))
    return out


def lane_plan(ctx) -> dict | None:
    """{"jobs": {lane: threads}, "raw": whether the raw baseline moves to the side lane}, or
    None where one process does it all (--lanes off, auto below LANES_MIN_JOBS, fewer than two
    lanes). --lanes on splits any job count (lanes of one thread share the cores then)."""
    cfg = ctx["cfg"]
    if cfg.lanes == "off" or (cfg.lanes == "auto" and cfg.n_jobs < LANES_MIN_JOBS) or not ctx["specs"]:
        return None
    raw = bool(cfg.raw_baseline and ctx["images"] is not None)
    tsne = any(method == "tsne" for method, _ in ctx["specs"])
    lanes = (["projections"] + (["tsne"] if tsne else []) + (["side"] if raw or cfg.probes else [])
             + (["clustering"] if cfg.clusterers else []))
    if len(lanes) < 2:
        return None
    return {"jobs": dict(zip(lanes, shares(cfg.n_jobs, [LANE_WEIGHTS[name] for name in lanes]))), "raw": raw}


def run_lanes(ctx, plan: dict) -> dict:
    """The sections in lanes (module docstring); metrics.json written once all are back."""
    from ..runtime import thread_limits
    from .analyze import _projections, merge_projections, merge_raw

    rd, cfg, jobs = ctx["rd"], ctx["cfg"], plan["jobs"]
    if ctx["verbose"]:
        print("lanes: " + ", ".join(f"{name} on {n} threads" for name, n in jobs.items())
              + f" (--jobs {cfg.n_jobs}: sections side by side)", flush=True)
    with tempfile.TemporaryDirectory(prefix="latentatlas-lanes-") as tmp:
        children = [_start(ctx, name, n, plan["raw"], Path(tmp)) for name, n in jobs.items() if name != "projections"]
        try:
            specs = [s for s in ctx["specs"] if "tsne" not in jobs or s[0] != "tsne"]
            with thread_limits(jobs["projections"]):
                projections = _projections({**ctx, "specs": specs, "cfg": replace(cfg, n_jobs=jobs["projections"])},
                                           raw=not plan["raw"])
            results: dict = {}
            for child in children:
                results.update(_finish(child))
        finally:
            for child in children:
                _stop(child["proc"])
    out = {"features": cfg.features}
    if "tsne" in results:               # first: the raw baseline adds to the t-SNE entry
        part = results.pop("tsne")
        _record(rd, "projections", part["section"]["timings"])
        for view in part["maps"]:
            rd.add_map(view["view"], view["xy"], view["rows"])
        merge_projections(projections, part["section"], ctx["specs"])
    if "raw" in results:
        _record(rd, "projections", results["raw"]["timings"])
        merge_raw(projections, results.pop("raw"))
    for section, result in [("projections", projections)] + [(s, results.get(s)) for s in ("probes", "clustering")]:
        if result is not None:
            if section != "projections":
                _record(rd, section, result["timings"])
            rd.update_metrics(section, result)
            out[section] = result
    return out


def _record(rd, section: str, timings: dict) -> None:
    """A child's step timings, as its own process would have recorded them one by one."""
    rd.record_timings({f"analyze.{section}.{step}": seconds for step, seconds in timings.items()})


def _start(ctx, lane: str, n_jobs: int, raw: bool, tmp: Path) -> dict:
    """Start one child lane on `n_jobs` threads; its settings and result travel as JSON files."""
    cfg = replace(ctx["cfg"], n_jobs=n_jobs)          # t-SNE loads the data as the projections do
    if lane != "tsne":
        cfg = replace(cfg, interactive=False)                         # hover images are the projections'
    if lane == "clustering":
        cfg = replace(cfg, probes=[], raw_baseline=False)             # needs no image: loads none
    args = {"run": str(ctx["rd"].path), "config": asdict(cfg), "lane": lane, "raw": raw and lane == "side",
            "choice_jobs": ctx["choice_jobs"], "verbose": ctx["verbose"], "out": str(tmp / f"{lane}.json")}
    path = tmp / f"{lane}-args.json"
    path.write_text(json.dumps(args), encoding="utf-8")
    # The child imports this very latentatlas, wherever it came from (a checkout on sys.path too).
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "latentatlas.stages.lanes", str(path)], env=env)
    return {"lane": lane, "proc": proc, "out": Path(args["out"])}


def _finish(child: dict) -> dict:
    """A child's sections, once it is done; its UserError raised here as the same one line."""
    rc = child["proc"].wait()
    result = json.loads(child["out"].read_text(encoding="utf-8")) if child["out"].is_file() else None
    if result is not None and "error" in result:
        raise UserError(result["error"])
    if rc != 0 or result is None:
        raise RuntimeError(f"the {child['lane']} lane of the analysis stopped with exit code {rc} "
                           "(its error is printed above); --lanes off analyses in one process")
    return result


def _stop(proc) -> None:
    if proc.poll() is None:             # this process failed first: the child's work is moot
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_lane(args: dict) -> dict:
    """One child lane: its sections' results (timings and figures lists inside)."""
    from ..runtime import thread_limits
    from ..rundir import RunDir
    from ..settings import AnalysisConfig
    from .analyze import _clustering, _context, _probes, _projections, _raw_part

    cfg = AnalysisConfig(**args["config"])
    with thread_limits(cfg.n_jobs):
        ctx = _context(RunDir(args["run"]), cfg, args["verbose"], choice_jobs=args["choice_jobs"], lane=True)
        if args["lane"] == "clustering":
            return {"clustering": _clustering(ctx)}
        if args["lane"] == "tsne":
            ctx["specs"] = [s for s in ctx["specs"] if s[0] == "tsne"]
            return {"tsne": {"section": _projections(ctx, raw=False), "maps": ctx.get("maps", [])}}
        out = {"probes": _probes(ctx)} if cfg.probes else {}
        if args["raw"]:
            out["raw"] = _raw_part(ctx)
        return out


def main(argv: list[str] | None = None) -> int:
    from ..rundir import atomic_write_json

    args = json.loads(Path((sys.argv[1:] if argv is None else argv)[0]).read_text(encoding="utf-8"))
    try:
        result = run_lane(args)
    except UserError as exc:
        atomic_write_json(args["out"], {"error": str(exc)})
        return 2
    atomic_write_json(args["out"], result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
