"""`latentatlas sweep`: many runs over a grid of settings on Ray Tune, and one sweep report.

The grid comes from --grid KEY=V1,V2 (repeatable) over a --config file's [sweep] section or a
sweep preset; every other setting option applies to every trial, as in `latentatlas run`.
"""

from __future__ import annotations

from ..settings import DEFAULT_PRESET, SECTIONS, add_section_options
from . import HelpFormatter, add_wait_option


def add_parser(sub):
    p = sub.add_parser(
        "sweep", help="many runs over a grid of settings (Ray Tune), one sweep report",
        description="Run one `latentatlas run` per point of a grid of settings (and per seed) on Ray Tune, each\n"
                    "into DIR/trials/<name>/ with its own report, and write DIR/sweep.html over them all.\n"
                    "Trials finished before with the same settings are reused; a failing trial is recorded\n"
                    "with its error and the others go on. Ray starts locally on every core, or joins the\n"
                    "cluster at --address (or RAY_ADDRESS).\n\n"
                    "examples:\n"
                    "  latentatlas sweep --preset default-vae --grid model.latent_dim=2,4,8 "
                    "--grid model.beta=0.5,1 --seeds 3 --out runs/sweep\n"
                    "  latentatlas sweep --config sweep.toml --out runs/sweep      # a [sweep] section\n"
                    "  latentatlas sweep --preset sweep-latent-size --address ray://head:10001 --gpus-per-trial 0.25",
        formatter_class=HelpFormatter, allow_abbrev=False)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", default=None, metavar="NAME",
                     help="a sweep preset (sweep-latent-size, sweep-beta) or a run preset the trials start from "
                          f"(default: {DEFAULT_PRESET})")
    src.add_argument("--config", default=None, metavar="FILE",
                     help="a TOML or JSON file: the settings every trial shares, and a [sweep] section")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="a setting and its values, e.g. model.latent_dim=2,4,8 (repeatable: every combination)")
    p.add_argument("--seeds", type=int, default=None, metavar="N",
                   help="trials per grid point, with train.seed 0..N-1 (default: the [sweep] section's, else 1)")
    p.add_argument("--out", default=None, metavar="DIR", help="sweep folder (default: runs/<sweep preset>, or runs/sweep-<run preset>)")
    p.add_argument("--cpus-per-trial", type=float, default=None, metavar="C",
                   help="cores Ray gives each trial, fractions allowed (default: 1); trials run side by side")
    p.add_argument("--gpus-per-trial", type=float, default=None, metavar="G",
                   help="share of a GPU per trial, e.g. 0.25: four small models on one card (default: 0)")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="a Ray cluster: HOST:PORT or ray://HOST:PORT (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--search", choices=("optuna",), default=None,
                   help="let Tune's Optuna searcher pick --trials points of the grid, minimising the test loss "
                        "(default: every point)")
    p.add_argument("--trials", type=int, default=0, metavar="N", help="with --search: how many points it picks")
    p.add_argument("--scheduler", default=None, metavar="asha",      # checked in one line: sweeps/early.py
                   help="asha: Tune's ASHA scheduler, to stop the trials whose test loss after an epoch trails the others' "
                        "(a trial stopped early is recorded as such, and kept when the sweep runs again)")
    p.add_argument("--retry-failed", action="store_true",
                   help="run the trials that failed before again (default: keep their recorded error)")
    p.add_argument("--list-presets", action="store_true", help="list the sweep presets and exit")
    add_wait_option(p)
    for section in SECTIONS:
        add_section_options(p, section)
    return p


def _number(value, default):
    return default if value is None else value


def run(args) -> int:
    from ..settings import given_tables
    from ..sweeps import format_summary, list_sweep_presets, parse_grid_options, run_sweep, sweep_source, sweep_spec

    if args.list_presets:
        print("\n".join(list_sweep_presets()))
        return 0
    source = sweep_source(args.preset, args.config)
    spec = sweep_spec(source.sweep.get("grid"), _number(args.seeds, source.sweep.get("seeds", 1)),
                      text_grid=parse_grid_options(args.grid))
    name = args.preset or "run"
    out = args.out or (f"runs/{name}" if name.startswith("sweep") else f"runs/sweep-{name}")
    summary = run_sweep(out, spec, preset=source.preset, tables=[*source.tables, given_tables(args)],
                        cpus_per_trial=float(_number(args.cpus_per_trial, source.sweep.get("cpus_per_trial", 1))),
                        gpus_per_trial=float(_number(args.gpus_per_trial, source.sweep.get("gpus_per_trial", 0))),
                        address=args.address, retry_failed=args.retry_failed, search=args.search,
                        samples=args.trials, scheduler=args.scheduler, wait=args.wait)
    print(format_summary(summary))
    return 0
