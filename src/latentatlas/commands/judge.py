"""`latentatlas judge`: grade a run's generated images with an independent pixel classifier.

    latentatlas judge runs/ae                       fidelity and Frechet distance per sampler
    latentatlas judge --dataset fashion-mnist       just train (or load) the judge; print its accuracy

The judge is a small CNN trained on the dataset's pixels (not on latent codes),
trained once per dataset and cached (cache folder: $LATENTATLAS_CACHE, else
~/.cache/latentatlas, under judge/). Fidelity: the fraction of images sampled
for class c that it labels c. Frechet distance: between real test images and
generated ones in its penultimate-layer features (lower is better; the floor
is real train images vs real test images).
"""

from __future__ import annotations

from ..settings import add_section_options
from . import HelpFormatter, add_device_option, add_wait_option

# The generation settings that mean something to `judge`.
JUDGE_SETTINGS = ("samplers", "n_components", "n_judge", "seed")


def add_parser(sub):
    p = sub.add_parser("judge", help="grade generated images with an independent classifier (fidelity, Frechet distance)",
                       description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
                       formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", nargs="?", default=None, help="a trained run folder")
    p.add_argument("--dataset", default=None,
                   help="no run: only train/load the judge of this dataset and print its test accuracy")
    add_section_options(p, "data", only=("data_dir",))
    add_section_options(p, "generate", own=True, only=JUDGE_SETTINGS)
    p.add_argument("--retrain", action="store_true", help="train the judge again even if one is cached")
    add_device_option(p, "the judge and the decoder")
    add_wait_option(p)
    return p


def run(args) -> int:
    import time

    from ..errors import UserError

    if args.run_dir is None:
        if not args.dataset:
            raise UserError("give a RUN_DIR to grade its samples, or --dataset NAME to train/load only the judge")
        from ..data import load_dataset
        from ..stages.judge_store import load_or_train_judge
        from ..settings import resolve_sections

        data_cfg = resolve_sections(("data",), {"data": {"name": args.dataset}}, args=args)["data"]
        data = load_dataset(data_cfg.name, data_dir=data_cfg.data_dir)
        judge = load_or_train_judge(data, retrain=args.retrain, device=args.device)
        how = "loaded from the cache" if judge.cached else f"trained in {judge.train_seconds} s"
        print(f"judge for {data.name}: test accuracy {judge.test_accuracy:.4f} on {len(data.y_test)} test images "
              f"({how}; key {judge.key})")
        return 0
    if args.dataset:
        raise UserError("give either a RUN_DIR (its dataset is in config.json) or --dataset, not both")

    from ..stages.judge import judge_section
    from ..stages.encode import open_encoded
    from ..rundir import RunDir
    from .generation import generate_config_from_args, print_judge

    cfg = generate_config_from_args(args, RunDir(args.run_dir).config_section("generate"))
    RunDir(args.run_dir).require()          # a missing run is named before the lock is taken
    with RunDir(args.run_dir).lock(wait=args.wait, command="latentatlas judge"):
        t0 = time.perf_counter()
        ctx = open_encoded(args.run_dir, device=args.device)
        if args.retrain:
            from ..stages.judge_store import load_or_train_judge

            ctx._judge = load_or_train_judge(ctx.dataset(), retrain=True, device=ctx.device)
        print_judge(judge_section(ctx, cfg))
        ctx.run.record_timing("judge", time.perf_counter() - t0)
    return 0
