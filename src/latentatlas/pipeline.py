"""`latentatlas run` as a Python function: train, encode, analyse, generate, report.

    from latentatlas.settings import load_preset
    from latentatlas.pipeline import run_pipeline
    summary = run_pipeline("runs/demo", load_preset("demo"), preset="demo")

Each stage is the stage's own entry point (docs/internals.md); this module only
decides which of them must run. A stage is *done*, and reused, when run.json
records that it finished with the same fingerprint - a hash of its config
section and of the files it reads (weights, latents) - and the outputs it wrote
(files and metrics.json sections, their figures included) are still there.
So changing the analysis settings re-runs the analysis only; retraining
re-runs everything after it, since the weights' hash changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import sys
import time
from dataclasses import asdict, is_dataclass, replace
from pathlib import Path
from typing import Callable

from .settings import RunConfig
from .errors import UserError
from .rundir import CONFIG, FIGURES_DIR, HISTORY, LATENTS, METRICS, MODEL_JSON, REPORT, WEIGHTS, RunDir
from .settings.stages import TRACKING_KEYS, drop_later_defaults

STAGES = ("train", "data", "encode", "analyze", "generate", "report")

# stage -> (module, function, files it reads, files it must leave)
ENTRY = {
    "train": ("latentatlas.stages.train", "train_run", (), (WEIGHTS, MODEL_JSON, HISTORY)),
    "data": ("latentatlas.pipeline", "describe_data", (CONFIG,), ()),
    "encode": ("latentatlas.stages.encode", "encode_run", (WEIGHTS, MODEL_JSON), (LATENTS,)),
    "analyze": ("latentatlas.stages.analyze", "analyze_run", (LATENTS,), ()),
    "generate": ("latentatlas.stages.generate", "generate_run", (WEIGHTS, LATENTS), ()),
    "report": ("latentatlas.stages.report.html", "write_report", (), (REPORT,)),
}
SECTION_OF_STAGE = {"train": ("data", "model", "train"), "data": ("data",), "encode": (), "analyze": ("analysis",),
                    "generate": ("generate",), "report": ()}


def stage_entry(stage: str) -> Callable:
    """The stage's entry point, imported when the stage runs (torch and scikit-learn load then)."""
    module_name, func, _, _ = ENTRY[stage]
    return getattr(importlib.import_module(module_name), func)


def fingerprint(run: RunDir, stage: str, cfg: RunConfig) -> str:
    """Hash of what a stage's result depends on: its settings and the files it reads."""
    _, _, reads, _ = ENTRY[stage]
    parts = {s: drop_later_defaults(s, cfg.section_dict(s)) for s in SECTION_OF_STAGE[stage]}
    if "data" in parts:
        parts["data"].pop("data_dir", None)  # where the files lie does not change the result
    for key in TRACKING_KEYS:                 # nor does logging to TensorBoard / MLflow
        parts.get("train", {}).pop(key, None)
    parts["inputs"] = {name: run.digest(name) for name in reads if name != CONFIG}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _outputs_present(run: RunDir, record: dict, stage: str) -> bool:
    if not run.has(*ENTRY[stage][3]):
        return False
    metrics = run.read_metrics()
    for section in record.get("sections", []):
        value = metrics.get(section)
        if value is None:
            return False
        for fig in (value.get("figures") or []) if isinstance(value, dict) else []:
            if isinstance(fig, dict) and fig.get("path") and not (run / fig["path"]).is_file():
                return False
    return True


def _trained_elsewhere(run: RunDir, cfg: RunConfig) -> bool:
    """A model trained by `latentatlas train` (no run.json record) with these very settings."""
    try:
        written = run.read_config()
    except UserError:
        return False
    if not written:
        return False
    for section in SECTION_OF_STAGE["train"]:
        ours = drop_later_defaults(section, cfg.section_dict(section))
        theirs = drop_later_defaults(section, dict(written.get(section) or {}))
        for key in ("data_dir", *TRACKING_KEYS):     # where files lie and what watches: no result
            ours.pop(key, None)
            theirs.pop(key, None)
        if ours != theirs:
            return False
    train = run.read_metrics().get("train") or {}
    return bool(train.get("completed")) and run.has(*ENTRY["train"][3])


def is_done(run: RunDir, stage: str, cfg: RunConfig, state: dict) -> bool:
    record = (state.get("stages") or {}).get(stage)
    if stage == "train" and not record and _trained_elsewhere(run, cfg):
        return True
    if not record or record.get("fingerprint") != fingerprint(run, stage, cfg):
        return False
    if stage == "train" and not (run.read_metrics().get("train") or {}).get("completed", True):
        return False  # stopped early (Ctrl-C): not done
    if stage == "train" and not record.get("finished"):
        return False  # remembered at its start, never finished (a sweep's scheduler stopped it): not done
    return _outputs_present(run, record, stage)


def _changed_sections(before: dict, after: dict) -> list[str]:
    return [k for k, v in after.items() if k != "timings" and before.get(k) != v]


def _can_resume(run: RunDir, cfg: RunConfig, state: dict) -> bool:
    """Training of these same settings started here, was stopped, and left a checkpoint."""
    record = (state.get("stages") or {}).get("train") or {}
    if record.get("finished") or record.get("fingerprint") != fingerprint(run, "train", cfg):
        return False
    return run.checkpoint_path.is_file()


def describe_data(run_dir, data, note: str | None = None) -> dict:
    """metrics.json "data": shapes, class counts, pixel range, source (and where the demo's data
    came from), with a grid of training images, eight per class."""
    import numpy as np

    from .data import load_dataset
    from .data.summary import describe_dataset
    from .figures.grids import save_grid_png

    t0 = time.perf_counter()
    run = RunDir(run_dir)
    d = asdict(data) if is_dataclass(data) else dict(data)
    ds = load_dataset(**d)
    section = describe_dataset(ds, note)
    per_class = 8
    picks = [np.flatnonzero(ds.y_train == c)[:per_class] for c in range(ds.n_classes)]
    rows = [ds.x_train[idx] for idx in picks if len(idx) == per_class]
    if rows:
        rel = f"{FIGURES_DIR}/data_train_images.png"
        save_grid_png(run / rel, np.concatenate(rows), nrow=per_class)
        section["figures"] = [{"path": rel, "title": "Training images", "kind": "png", "section": "data",
                               "caption": f"The first {per_class} training images of each class, one class per row "
                                          f"({', '.join(map(str, ds.class_names))})."}]
    run.update_metrics("data", section)
    run.record_timing("data", time.perf_counter() - t0)
    return section


def _call(stage: str, fn: Callable, run: RunDir, cfg: RunConfig, resume: bool, baseline, note=None):
    if stage == "train":
        if resume:
            return fn(run.path, cfg.data, cfg.model, cfg.train, resume=True)
        return fn(run.path, cfg.data, cfg.model, cfg.train, overwrite=True)
    if stage == "data":
        return fn(run.path, cfg.data, note)
    if stage == "encode":
        return fn(run.path)
    if stage == "analyze":
        return fn(run.path, cfg.analysis)
    if stage == "generate":
        return fn(run.path, cfg.generate)
    return fn(run.path, baseline=baseline)


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        print(text, file=sys.stderr, flush=True)


def resolve_data(cfg: RunConfig, sample_fallback: bool, quiet: bool = False) -> tuple[RunConfig, str | None]:
    """For the demo: full MNIST when it can be found or fetched, else the embedded sample.

    Returns the settings with the dataset that was found (settings are frozen: a new RunConfig)
    and the note saying which (None when the dataset was named explicitly and no fallback applies).
    """
    if not sample_fallback:
        return cfg, None
    from .data import registry

    entry = registry.entry_for(cfg.data.name)
    if entry is None or entry.fallback is None:   # no embedded stand-in (mnist's: mnist-sample)
        return cfg, None
    d = cfg.data
    ds, note = registry.load_dataset_or_sample(data_dir=d.data_dir, classes=d.classes, image_size=d.image_size,
                                               test_fraction=d.test_fraction, split_seed=d.split_seed)
    _say(quiet, f"data: {note}")
    return replace(cfg, data=replace(cfg.data, name=ds.name)), note


def run_pipeline(out, config: RunConfig | None = None, *, preset: str | None = None, force: bool = False,
                 sample_fallback: bool = False, baseline=None, skip=(), quiet: bool = False,
                 wait: bool = False) -> dict:
    """Run every stage into `out` (reusing those already done unless force); return a summary.

    Holds the run folder's lock throughout (the stages take it again, re-entrantly): another
    process writing `out` is refused in one line, or waited for with wait=True.
    """
    cfg = config or RunConfig()
    unknown = [s for s in skip if s not in STAGES]
    if unknown:
        raise UserError(f"cannot skip {', '.join(unknown)}: the stages are {', '.join(STAGES)}")
    if "analyze" not in skip:
        from .runtime import resolve_jobs

        # --jobs over the cores is refused now, not after minutes of training.
        resolve_jobs(cfg.section_dict("analysis").get("n_jobs"))
    run = RunDir(out)
    # The lock first refuses a folder holding something that is not a run, before any work.
    with run.lock(wait=wait, command="latentatlas run"):
        cfg, note = resolve_data(cfg, sample_fallback, quiet)
        state = _start_state(run, cfg, preset, note)
        summary = {"run_dir": str(run.path), "stages": {}, "data_note": state["data_note"]}
        rerun_after = force
        for i, stage in enumerate(STAGES, 1):
            what = _run_stage(run, cfg, state, stage, f"[{i}/{len(STAGES)}] {stage}", skip=skip, force=force,
                              rerun_after=rerun_after, baseline=baseline, quiet=quiet)
            summary["stages"][stage] = what
            if stage == "train" and what.startswith("ran"):
                rerun_after = True  # new weights: everything after them is stale
        from .tracking import after_report

        after_report(run.path, cfg.train)  # --mlflow: the final figures and report.html; never raises
        summary.update(_where(run))
    return summary


def _start_state(run: RunDir, cfg: RunConfig, preset, note) -> dict:
    """run.json as read, updated with this run's preset, data note and study."""
    state = run.read_state()
    data_name = cfg.section_dict("data").get("name")
    if note is None and state.get("data_note") and state.get("data_name") == data_name:
        note = state["data_note"]
    state.update(preset=preset, data_note=note, data_name=data_name,
                 study=asdict(cfg.study) if cfg.study is not None else None)
    state.setdefault("stages", {})
    return state


def _save_state(run: RunDir, cfg: RunConfig, state: dict) -> None:
    """config.json and run.json, only into a folder that is a run by now: a first run whose
    training failed on bad input leaves nothing behind (train_run checks it before writing)."""
    if run.is_run():
        run.update_config(cfg.to_dict())  # every stage's section (train_run rewrites its own)
        run.write_state(state)


def _run_stage(run: RunDir, cfg: RunConfig, state: dict, stage: str, head: str, *, skip, force: bool,
               rerun_after: bool, baseline, quiet: bool) -> str:
    """Skip, reuse or run one stage; returns what happened, for the summary."""
    if stage in skip:
        _say(quiet, f"{head}: skipped (--skip)")
        return "skipped"
    fn = stage_entry(stage)
    missing = [name for name in ENTRY[stage][2] if not run.has(name)]
    if missing:
        _say(quiet, f"{head}: skipped, the run has no {', '.join(missing)} (an earlier stage did not run)")
        return "skipped"
    if stage != "report" and not rerun_after and is_done(run, stage, cfg, state):
        _say(quiet, f"{head}: done before with the same settings; reused (--force runs it again)")
        _save_state(run, cfg, state)
        return "reused"
    resume = stage == "train" and not force and _can_resume(run, cfg, state)
    _say(quiet, f"{head} ..." + (" (resuming the stopped training)" if resume else ""))
    before = run.read_metrics()
    if stage == "train":  # remembered first, so that a stopped training can be resumed
        state["stages"]["train"] = {"fingerprint": fingerprint(run, stage, cfg), "sections": []}
        for later in ("data", "encode", "analyze", "generate"):
            state["stages"].pop(later, None)
    t0 = time.perf_counter()
    try:
        _call(stage, fn, run, cfg, resume, baseline, state["data_note"])
    except BaseException:
        if stage == "train":  # Ctrl-C: the checkpoint is there; the next `run` resumes it
            with contextlib.suppress(UserError):  # a full disk: the stage's own error says it
                _save_state(run, cfg, state)
        raise
    seconds = time.perf_counter() - t0
    if stage not in (run.read_metrics().get("timings") or {}):
        run.record_timing(stage, seconds)  # a stage that timed only its steps: its wall time
    state["stages"][stage] = {"fingerprint": fingerprint(run, stage, cfg),
                              "sections": _changed_sections(before, run.read_metrics()),
                              "seconds": round(seconds, 3),
                              "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _save_state(run, cfg, state)
    _say(quiet, f"{head}: {seconds:.1f} s")
    return f"ran in {seconds:.1f} s"


def _where(run: RunDir) -> dict:
    figures = sorted(p.name for p in run.figures.glob("*")) if run.figures.is_dir() else []
    files = {"report": run / REPORT, "config": run / CONFIG, "metrics": run / METRICS, "model": run / WEIGHTS,
             "history": run / HISTORY, "latents": run / LATENTS}  # the summary names them
    return {"files": {k: str(v) for k, v in files.items() if v.exists()}, "n_figures": len(figures),
            "timings": run.read_metrics().get("timings", {})}


def format_summary(summary: dict) -> str:
    lines = ["", f"run directory: {summary['run_dir']}"]
    if summary.get("data_note"):
        lines.append(f"  data:      {summary['data_note']}")
    for stage, what in summary["stages"].items():
        lines.append(f"  {stage:<10} {what}")
    for key, path in summary.get("files", {}).items():
        lines.append(f"  {key + ':':<10} {path}")
    if summary.get("n_figures"):
        lines.append(f"  {'figures:':<10} {summary['n_figures']} files in {Path(summary['run_dir']) / FIGURES_DIR}")
    timings = summary.get("timings") or {}
    if timings:
        lines.append("  seconds:   " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()
                                                 if isinstance(v, (int, float)) and "." not in k))
    if "report" in summary.get("files", {}):
        lines.append(f"open {summary['files']['report']} in a browser (it works offline)")
    return "\n".join(lines)
