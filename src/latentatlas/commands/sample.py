"""`latentatlas sample`: draw latent codes from fitted samplers and decode them to image grids.

    latentatlas sample runs/ae                                  every sampler that applies
    latentatlas sample runs/ae --sampler class-gaussian -n 16 --classes 3 8
    latentatlas sample runs/ae --sampler gmm --components 20 --judge

Samplers are fitted on the run's training codes (AE codes z, VAE means mu):
prior N(0, I) (VAE only), one Gaussian, one Gaussian per class (MLE), a
Gaussian mixture. Grids go to RUN/figures/generation_<sampler>.png; with
--judge the independent pixel classifier also grades them (see `latentatlas judge`).

The options are made from the settings declarations (latentatlas.settings).
"""

from __future__ import annotations

from ..settings import add_section_options
from . import HelpFormatter, add_device_option, add_wait_option

# The generation settings that mean something to `sample` (the walks belong to `interpolate`).
SAMPLE_SETTINGS = ("samplers", "n_per_class", "classes", "n_components", "seed", "n_judge")


def add_parser(sub):
    p = sub.add_parser("sample", help="decode samples from latent samplers (prior, Gaussian, per class, mixture)",
                       description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
                       formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a trained run folder")
    add_section_options(p, "generate", own=True, only=SAMPLE_SETTINGS)
    p.add_argument("--judge", action="store_true",
                   help="also grade the samples with the independent classifier (fidelity, Frechet distance)")
    add_device_option(p, "the decoder (and the judge)")
    add_wait_option(p)
    return p


def run(args) -> int:
    import time

    from ..data.subset import class_indices as resolve_classes
    from ..stages.judge import judge_section
    from ..stages.encode import open_encoded
    from ..stages.generate import sample_section
    from ..stages.samplers import fit_samplers, sampler_names
    from ..rundir import RunDir

    from .generation import generate_config_from_args

    cfg = generate_config_from_args(args, RunDir(args.run_dir).config_section("generate"))
    RunDir(args.run_dir).require()          # a missing run is named before the lock is taken
    with RunDir(args.run_dir).lock(wait=args.wait, command="latentatlas sample"):
        t0 = time.perf_counter()
        ctx = open_encoded(args.run_dir, device=args.device)
        resolve_classes(cfg.classes, ctx.class_names)          # a wrong class fails before any work
        samplers = fit_samplers(ctx, sampler_names(ctx, cfg.samplers), cfg.n_components, cfg.seed)
        section = sample_section(ctx, cfg, samplers)
        for name, info in section["samplers"].items():
            print(f"{name:15s} {info['description']}: {ctx.run.path / info['grid']}")
        if args.judge:
            from .generation import print_judge

            print_judge(judge_section(ctx, cfg, samplers))
        ctx.run.record_timing("sample", time.perf_counter() - t0)
    return 0
