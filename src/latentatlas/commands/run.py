"""`latentatlas run`: from data to report in one command.

Settings come from, in order of precedence: the options given on the command
line; a --config file or a --preset; the defaults. Its options are made from the
same declarations as the stage commands' (latentatlas.settings), so `run` accepts
every setting of every stage.
"""

from __future__ import annotations

from ..settings import DEFAULT_PRESET, SECTIONS, add_section_options
from . import HelpFormatter, add_wait_option


def add_parser(sub):
    p = sub.add_parser(
        "run", help="train, encode, analyse, generate and write the HTML report, in one command",
        description="Train, encode, analyse, generate and write RUN/report.html in one go.\n"
                    "Stages already done in the run directory with the same settings are reused\n"
                    "(--force runs them again). With --preset demo (or no preset) and no --dataset,\n"
                    "the full MNIST is used when it can be found or fetched, else the embedded\n"
                    "10,000-image sample; the console and the report say which.\n\n"
                    "Settings: the options given here, over a --config file or a --preset, over\n"
                    "the defaults.\n\n"
                    "examples:\n  latentatlas run --preset demo --out runs/demo\n"
                    "  latentatlas run --dataset mnist --out runs/mnist\n"
                    "  latentatlas run --preset study001-vae-svm --out runs/study001\n"
                    "  latentatlas run --config my.toml --out runs/mine",
        formatter_class=HelpFormatter, allow_abbrev=False)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--preset", default=None, metavar="NAME",
                     help="start from a shipped preset (demo, default-ae, default-vae, study000-cae-lda, ...; "
                          f"default: {DEFAULT_PRESET}, our defaults)")
    src.add_argument("--config", default=None, metavar="FILE", help="start from a TOML or JSON config file")
    p.add_argument("--out", default=None, metavar="DIR", help="run directory (default: runs/<preset or 'run'>)")
    p.add_argument("--force", action="store_true", help="run every stage again, even those already done with the same settings")
    p.add_argument("--skip", default="", metavar="STAGES",
                   help="comma-separated stages not to run: train, data, encode, analyze, generate, report "
                        "(default: none)")
    p.add_argument("--baseline", default=None, metavar="RUN_DIR",
                   help="our default run, put beside a study preset's published figures in the report "
                        "(default: runs/<the study's baseline preset> when it exists)")
    p.add_argument("--list-presets", action="store_true", help="list the presets and exit")
    add_wait_option(p)
    for section in SECTIONS:
        add_section_options(p, section)
    return p


def build_config(args):
    """RunConfig: the --config file or the preset, then every setting given on the line."""
    from ..settings import given_tables, resolve_settings

    preset = None if args.config else (args.preset or DEFAULT_PRESET)
    return resolve_settings(preset, args.config, given_tables(args), source="options")


def run(args) -> int:
    from ..pipeline import format_summary, run_pipeline
    from ..settings import given_tables, list_presets

    if args.list_presets:
        print("\n".join(list_presets()))
        return 0
    cfg = build_config(args)
    dataset_given = "name" in given_tables(args).get("data", {}) or bool(args.config)
    # The demo (and a bare `latentatlas run`) falls back to the embedded sample; a named
    # dataset never does.
    sample_fallback = not dataset_given and args.preset in (None, "demo")
    out = args.out or f"runs/{args.preset or 'run'}"
    skip = tuple(s.strip() for s in (args.skip or "").split(",") if s.strip())
    preset = args.preset or (None if args.config else DEFAULT_PRESET)
    summary = run_pipeline(out, cfg, preset=preset, force=args.force, sample_fallback=sample_fallback,
                           baseline=args.baseline, skip=skip, wait=args.wait)
    print(format_summary(summary))
    return 0
