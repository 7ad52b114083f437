"""Sweeps: many runs over settings, on Ray Tune, and one report over them.

    grid       the grid (keys, typed values, checks in one line), trial names, settings resolved once
    source     a sweep's starting point: a run preset, a sweep preset (presets/sweeps/) or a [sweep] file
    folder     the sweep folder: sweep.json, sweep.html, trials/<name>/ (run folders) and their records
    trial      one trial as Tune runs it: pipeline.run_pipeline into its folder, failures recorded
    engine     Ray: local on every core or a cluster (--address), resources per trial, one tune.Tuner
    run        run_sweep: plan, reuse the finished trials, run the rest, write sweep.json and the report
    summary    the table of trials and their headline figures (active dimensions, PCA 90/95 %)
    report     sweep.html: the table, each figure against each setting, rate-distortion, small multiples

The sweep sits above the pipeline (every trial is an ordinary `latentatlas run`) and below the
commands and the Python API. Ray is imported only when trials run.
"""

from .folder import SWEEP_JSON, SWEEP_REPORT, SweepFolder, trial_dirs
from .grid import SweepSpec, Trial, parse_grid_options, plan_trials, sweep_spec, valid_keys
from .run import format_summary, plan, run_sweep
from .source import SweepSource, list_sweep_presets, sweep_source

__all__ = ["SWEEP_JSON", "SWEEP_REPORT", "SweepFolder", "SweepSource", "SweepSpec", "Trial", "format_summary",
           "list_sweep_presets", "parse_grid_options", "plan", "plan_trials", "run_sweep", "sweep_source",
           "sweep_spec", "trial_dirs", "valid_keys"]
