"""One trial, as Ray Tune runs it: a function of its config that runs the pipeline and reports.

Tune calls `run_trial({"trial": name}, specs=..., sweep_dir=...)` in a worker process; the trial
is an ordinary `latentatlas run` (pipeline.run_pipeline) into DIR/trials/<name>/, with the
settings resolved once by the driver and frozen. Whatever the pipeline raises ends as the trial's
record with one line (a NaN, a refused setting, a GPU out of memory); the function itself returns
normally, so Tune goes on with the others. A worker killed outright (the kernel's OOM killer) is
recorded by the driver from Tune's error instead.
"""

from __future__ import annotations

import os
import time

from ..errors import UserError
from .folder import SweepFolder


def one_line(exc: BaseException) -> str:
    """An exception as the one line a trial's record keeps."""
    cause = getattr(exc, "cause", None)          # Ray's RayTaskError wraps what the trial raised
    if isinstance(cause, BaseException) and cause is not exc:
        return one_line(cause)
    text = [t for t in str(exc).strip().splitlines() if t.strip()]
    first = text[0] if text else ""
    if isinstance(exc, UserError):
        return first or type(exc).__name__
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _node() -> str | None:
    try:
        import ray

        return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
    except Exception:          # outside Ray (a trial run by hand): no node
        return None


def record_of(spec: dict, status: str, seconds: float, error: str | None = None, node=None,
              cpu_seconds: float | None = None, started_at: float | None = None, note: str | None = None) -> dict:
    """A trial's record; status "ok", "failed" (with its one-line error) or "stopped" (--scheduler:
    stopped early, with a note); started_at / ended_at are the epoch seconds (time.time) of its start
    and end, which place it on the sweep's timeline (benchmarks/bench_sweep.py: idle cores, start-up)."""
    return {"name": spec["name"], "settings": spec["settings"], "config_hash": spec["config_hash"],
            "status": status, "error": error, "note": note, "seconds": round(seconds, 3),
            "cpu_seconds": None if cpu_seconds is None else round(cpu_seconds, 3), "node": node, "pid": os.getpid(),
            "started_at": started_at, "ended_at": time.time(),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def execute(spec: dict, sweep_dir) -> dict:
    """Run one trial's pipeline into its folder and write its record; returns the record."""
    from ..pipeline import run_pipeline
    from ..settings import RunConfig

    from .early import TrialStopped, reporting

    folder = SweepFolder(sweep_dir)
    t0, c0, started = time.perf_counter(), time.process_time(), time.time()   # process_time: every thread
    status, error, note = "ok", None, None
    try:
        if spec.get("error"):
            raise UserError(spec["error"])
        cfg = RunConfig.from_dict(spec["config"], source=f"trial {spec['name']}")
        # wait: a trial of a killed sweep may still be finishing; the pipeline then reuses its stages
        with reporting(spec["name"], cfg.train.epochs, on=bool(spec.get("scheduler"))):  # --scheduler: to Tune
            run_pipeline(folder.trial_dir(spec["name"]), cfg, preset=spec.get("preset"), quiet=True, wait=True)
    except KeyboardInterrupt:
        raise
    except TrialStopped as stop:           # the scheduler's decision, not a failure
        status, note = "stopped", stop.note()
    except BaseException as exc:           # noqa: BLE001 - every failure is the trial's record
        status, error = "failed", one_line(exc)
    record = record_of(spec, status, time.perf_counter() - t0, error, _node(), time.process_time() - c0, started,
                       note=note)
    folder.write_record(spec["name"], record)
    return record


def _test_loss(sweep_dir, name: str) -> float:
    """The trial's test loss for a searcher to minimise (a failed trial: a loss nothing beats)."""
    from ..rundir import RunDir

    loss = ((RunDir(SweepFolder(sweep_dir).trial_dir(name)).read_metrics().get("train") or {}).get("test_loss")
            if SweepFolder(sweep_dir).trial_dir(name).is_dir() else None)
    return float(loss) if isinstance(loss, (int, float)) else 1e30


def run_trial(config: dict, specs: dict, sweep_dir: str, keys: tuple = ()) -> dict:
    """The Tune trainable: config = {"trial": name} (a grid), or {key: value} for each swept key
    (a searcher's choice, `keys` in the grid's order); the final result is the trial's record and
    its test loss. A point a searcher picks again is not run again."""
    from .grid import trial_name

    name = config.get("trial") or trial_name({k: config[k] for k in keys})
    spec = specs[name]
    record = (SweepFolder(sweep_dir).finished(name, spec["config_hash"], stopped_too=bool(spec.get("scheduler")))
              or execute(spec, sweep_dir))
    out = {k: record.get(k) for k in ("status", "error", "note", "seconds", "node")}
    return dict(out, trial=name, test_loss=_test_loss(sweep_dir, name))
