"""`latentatlas sweep` as a Python function: plan the trials, run the pending ones on Ray Tune,
write sweep.json and sweep.html.

    spec = parse_grid_options(["model.latent_dim=2,4,8"], seeds=2)
    summary = run_sweep("runs/sweep", spec, preset="default-vae", tables=[given_options])

Run it again with the same settings and the trials finished before are reused (not given to Ray
at all; when all are, Ray does not start), the failed ones too unless retry_failed, and those a
scheduler stopped early (scheduler="asha") while the sweep has a scheduler; a trial that was
running when the sweep was killed runs again, its pipeline resuming from the stages it finished.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

from ..errors import UserError
from ..settings import resolve_settings
from .early import check_scheduler
from .engine import check_reachable, check_resources, ray_session, tune_trials
from .folder import SWEEP_REPORT, SweepFolder
from .grid import SweepSpec, Trial, plan_trials
from .trial import record_of


def thread_settings(preset, tables, cpus_per_trial: float) -> dict:
    """Each trial's torch and analysis threads: its share of Ray's cores, unless the settings
    name them (a trial must not spread over the cores Ray gives the others)."""
    base = resolve_settings(preset, None, *tables)
    share = max(1, math.floor(cpus_per_trial))
    fixed: dict = {}
    if base.train.threads is None:
        fixed.setdefault("train", {})["threads"] = share
    if base.analysis.n_jobs is None:
        fixed.setdefault("analysis", {})["n_jobs"] = share
    return fixed


def _search_grid(spec: SweepSpec) -> dict:
    """The grid a searcher chooses from, the seeds as one more key (last, as in the trial names)."""
    from .grid import SEED_KEY

    return dict(spec.grid, **({SEED_KEY: list(range(spec.seeds))} if spec.seeds > 1 else {}))


def _spec_of(trial: Trial, preset, scheduler) -> dict:
    return {"name": trial.name, "settings": trial.settings, "config_hash": trial.config_hash, "preset": preset,
            "config": trial.config.to_dict() if trial.config else None, "error": trial.error, "scheduler": scheduler}


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def plan(spec: SweepSpec, preset=None, tables=(), cpus_per_trial: float = 1.0) -> list[Trial]:
    """The trials of a sweep, each trial's settings resolved once and frozen."""
    tables = [t for t in tables if t]
    return plan_trials(spec, preset, tables, thread_settings(preset, tables, cpus_per_trial))


def run_sweep(out, spec: SweepSpec, *, preset: str | None = None, tables=(), cpus_per_trial: float = 1.0,
              gpus_per_trial: float = 0.0, address: str | None = None, retry_failed: bool = False,
              search: str | None = None, samples: int = 0, scheduler: str | None = None, quiet: bool = False,
              wait: bool = False) -> dict:
    """Run every trial not finished before into OUT/trials/<name>/; write OUT/sweep.json and
    OUT/sweep.html; return {"sweep_dir", "report", "trials": {name: status}, "ran", "reused", "ray"}."""
    from .report import write_sweep_report

    if search and samples < 1:
        raise UserError(f"--search {search} needs --trials N (how many points it picks), N >= 1")
    check_scheduler(scheduler)
    trials = plan(spec, preset, tables, cpus_per_trial)
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        check_reachable(address)       # before anything is written: a wrong address costs seconds
    folder = SweepFolder(out)
    with folder.lock(wait=wait):
        folder.path.mkdir(parents=True, exist_ok=True)
        before = folder.read_sweep() if folder.is_sweep() else {}
        specs = {t.name: _spec_of(t, preset, scheduler) for t in trials}
        sweep = {"grid": spec.to_dict()["grid"], "seeds": spec.seeds, "preset": preset, "search": search,
                 "scheduler": scheduler, "cpus_per_trial": cpus_per_trial, "gpus_per_trial": gpus_per_trial,
                 "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "trials": [{k: s[k] for k in ("name", "settings", "config_hash", "error")} for s in specs.values()]}
        folder.write_sweep(sweep)        # first: a sweep killed now is still a sweep folder
        reused = [n for n, s in specs.items()
                  if not s["error"] and folder.finished(n, s["config_hash"], failed_too=not retry_failed,
                                                        stopped_too=bool(scheduler))]
        for name, s in specs.items():    # refused settings: the trial's failure, without Ray
            if s["error"]:
                folder.write_record(name, record_of(s, "failed", 0.0, s["error"]))
        pending = {n: s for n, s in specs.items() if n not in reused and not s["error"]}
        if search:                       # a searcher may pick any point: a finished one returns its record
            pending = dict(specs)
        _say(quiet, f"sweep: {len(specs)} trials, {len(reused)} finished before (reused), {len(pending)} to run"
                    + (f", {len(specs) - len(reused) - len(pending)} refused" if len(reused) + len(pending) < len(specs)
                       else ""))
        ray_info = None
        t0 = time.perf_counter()
        if pending:
            with ray_session(address, quiet) as ray_info:
                check_resources(ray_info, cpus_per_trial, gpus_per_trial)
                _say(quiet, f"sweep: Ray at {ray_info['address']}: {ray_info['cpus']:g} CPUs, "
                            f"{ray_info['gpus']:g} GPUs, {ray_info['nodes']} node(s); "
                            f"{cpus_per_trial:g} CPU and {gpus_per_trial:g} GPU per trial")
                picked = tune_trials(pending, folder.path, cpus_per_trial, gpus_per_trial, quiet,
                                     search=search, grid=_search_grid(spec), samples=samples, scheduler=scheduler)
                if search:
                    pending = {n: pending[n] for n in picked}
        sweep.update(ray=ray_info or before.get("ray"), seconds=round(time.perf_counter() - t0, 3),
                     finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        folder.write_sweep(sweep)
        report = write_sweep_report(folder.path)
    statuses = {n: (folder.read_record(n) or {}).get("status", "not run") for n in specs}
    return {"sweep_dir": str(folder.path), "report": str(report), "trials": statuses, "ran": list(pending),
            "reused": reused, "ray": ray_info, "seconds": sweep["seconds"]}


def format_summary(summary: dict) -> str:
    statuses = list(summary["trials"].values())
    stopped = f", {statuses.count('stopped')} stopped early" if "stopped" in statuses else ""
    lines = ["", f"sweep directory: {summary['sweep_dir']}",
             f"  trials:    {len(statuses)} ({statuses.count('ok')} ok, {statuses.count('failed')} failed{stopped}; "
             f"{len(summary['ran'])} ran in {summary['seconds']:.1f} s, {len(summary['reused'])} reused)"]
    folder = SweepFolder(summary["sweep_dir"])
    for name, status in summary["trials"].items():
        if status == "failed":
            lines.append(f"  failed:    {name}: {(folder.read_record(name) or {}).get('error')}")
        elif status == "stopped":
            lines.append(f"  stopped:   {name}: {(folder.read_record(name) or {}).get('note')}")
    lines.append(f"  report:    {summary['report']}")
    lines.append(f"open {Path(summary['sweep_dir']) / SWEEP_REPORT} in a browser (it works offline)")
    return "\n".join(lines)
