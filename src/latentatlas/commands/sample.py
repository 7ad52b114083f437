"""`latentatlas sample`: draw latent codes from fitted samplers and decode them to image grids.

    latentatlas sample runs/ae                                  every sampler that applies
    latentatlas sample runs/ae --sampler class-gaussian -n 16 --classes 3 8
    latentatlas sample runs/ae --sampler gmm --components 20 --judge

Samplers are fitted on the run's training codes (AE codes z, VAE means mu):
prior N(0, I) (VAE only), one Gaussian, one Gaussian per class (MLE), a
Gaussian mixture. Grids go to RUN/figures/generation_<sampler>.png; with
--judge the independent pixel classifier also grades them (see `latentatlas judge`).

`add_generate_args` / `generate_config_from_args` are reused by `latentatlas run`.
"""

from __future__ import annotations

import argparse

from . import HelpFormatter

SAMPLER_CHOICES = ["prior", "gaussian", "class-gaussian", "gmm", "all"]

# option dest -> GenerateConfig field (options default to None = "not given")
OPTION_KEYS = {
    "sampler": "samplers", "n_per_class": "n_per_class", "components": "n_components",
    "judge": "judge", "n_judge": "n_judge", "walk": "walks", "walk_indices": "walk_indices",
    "steps": "steps", "tour": "tour", "traverse": "traverse", "traverse_k": "traverse_k",
    "gen_classes": "classes", "gen_seed": "seed",
}


def add_generate_args(p: argparse.ArgumentParser) -> None:
    """Generation options for `latentatlas run` (no --seed/--classes: those mean data/training there)."""
    g = p.add_argument_group("generation")
    g.add_argument("--sampler", nargs="+", choices=SAMPLER_CHOICES, default=None,
                   help="latent samplers: prior (VAE only), gaussian, class-gaussian, gmm, all [default: all]")
    g.add_argument("--n-per-class", type=int, default=None,
                   help="images per class in each sample grid (class-less samplers: rows of 10) [default: 10]")
    g.add_argument("--components", type=int, default=None, help="Gaussian-mixture components [default: 10]")
    g.add_argument("--judge", action=argparse.BooleanOptionalAction, default=None,
                   help="grade generated images with the independent pixel classifier [default: on]")
    g.add_argument("--n-judge", type=int, default=None,
                   help="generated images per sampler for fidelity and Frechet distance [default: 5000]")
    g.add_argument("--walk", nargs=2, action="append", metavar=("CLASS_A", "CLASS_B"), default=None,
                   help="walk between two class means (repeatable) [default: closest and farthest pair]")
    g.add_argument("--steps", type=int, default=None, help="images per walk [default: 12]")
    g.add_argument("--tour", action=argparse.BooleanOptionalAction, default=None,
                   help="a GIF touring every class mean [default: on]")
    g.add_argument("--traverse", action=argparse.BooleanOptionalAction, default=None,
                   help="vary one latent dimension at a time [default: on]")


def generate_config_from_args(args, base: dict | None = None):
    """GenerateConfig: dataclass defaults < `base` (a preset's or run's [generate] table) < options given."""
    from ..config import GenerateConfig, build_dataclass

    table = dict(base or {})
    for dest, key in OPTION_KEYS.items():
        value = getattr(args, dest, None)
        if value is not None:
            table[key] = value
    return build_dataclass(GenerateConfig, table, "generate", "options")


def run_generate_table(run_dir) -> dict:
    """The run's own [generate] table from config.json (a preset's choices), or {}."""
    from ..rundir import CONFIG, RunDir, read_json

    rd = RunDir(run_dir)
    if (rd / CONFIG).exists():
        config = read_json(rd / CONFIG)
        if isinstance(config, dict) and isinstance(config.get("generate"), dict):
            return config["generate"]
    return {}


def add_parser(sub):
    p = sub.add_parser("sample", help="decode samples from latent samplers (prior, Gaussian, per class, mixture)",
                       description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
                       formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a trained run folder")
    p.add_argument("--sampler", nargs="+", choices=SAMPLER_CHOICES, default=None,
                   help="which samplers [default: all that apply]")
    p.add_argument("-n", "--n-per-class", type=int, default=None,
                   help="samples per class (class-gaussian), or rows of 10 (the others) [default: 10]")
    p.add_argument("--classes", dest="gen_classes", nargs="+", default=None, metavar="CLASS",
                   help="class-gaussian: only these classes (label or name)")
    p.add_argument("--components", type=int, default=None, help="Gaussian-mixture components [default: 10]")
    p.add_argument("--seed", dest="gen_seed", type=int, default=None, help="random seed [default: 0]")
    p.add_argument("--judge", action="store_true", default=None,
                   help="also grade the samples with the independent classifier (fidelity, Frechet distance)")
    p.add_argument("--n-judge", type=int, default=None, help="images per sampler the judge grades [default: 5000]")
    return p


def run(args) -> int:
    import time

    from ..data.subset import class_indices as resolve_classes
    from ..judge.section import judge_section
    from ..latent.context import open_run
    from ..latent.generate import fit_samplers, sample_section, sampler_names

    cfg = generate_config_from_args(args, run_generate_table(args.run_dir))
    t0 = time.perf_counter()
    ctx = open_run(args.run_dir)
    resolve_classes(cfg.classes, ctx.class_names)          # a wrong class fails before any work
    samplers = fit_samplers(ctx, sampler_names(ctx, cfg.samplers), cfg.n_components, cfg.seed)
    section = sample_section(ctx, cfg, samplers)
    for name, info in section["samplers"].items():
        print(f"{name:15s} {info['description']}: {ctx.run.path / info['grid']}")
    if args.judge:
        from .judge import print_judge

        print_judge(judge_section(ctx, cfg, samplers))
    ctx.run.record_timing("sample", time.perf_counter() - t0)
    return 0
