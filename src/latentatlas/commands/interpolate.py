"""`latentatlas interpolate`: walk the latent space of a trained run.

    latentatlas interpolate runs/ae                           class means, default walks, tour, traversals
    latentatlas interpolate runs/ae --from 4 --to 9 --steps 16
    latentatlas interpolate runs/ae --from-index 0 --to-index 7
    latentatlas interpolate runs/ae --no-tour --no-traverse

Walks are convex combinations (1 - t) a + t b between two class means or the
codes of two test images (by index), written as a PNG strip and an animated
GIF; the tour visits every class mean in one GIF (study 004); traversals vary
one latent dimension at a time by +-k standard deviations; a 2-d latent also
gets its decoded manifold grid. Figures go to RUN/figures/interpolation_*.
"""

from __future__ import annotations

from ..settings import add_section_options
from . import HelpFormatter, add_device_option, add_wait_option

# The generation settings that mean something to `interpolate`.
INTERPOLATE_SETTINGS = ("steps", "tour", "traverse", "traverse_k", "classes", "manifold_n")


def add_parser(sub):
    p = sub.add_parser("interpolate", help="walks between class means or images, a tour, traversals",
                       description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
                       formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a trained run folder")
    p.add_argument("--from", dest="from_class", default=None, metavar="CLASS", help="walk from this class's mean")
    p.add_argument("--to", dest="to_class", default=None, metavar="CLASS", help="... to this class's mean")
    p.add_argument("--from-index", type=int, default=None, metavar="I", help="walk from test image I")
    p.add_argument("--to-index", type=int, default=None, metavar="J", help="... to test image J")
    add_section_options(p, "generate", own=True, only=INTERPOLATE_SETTINGS)
    add_device_option(p, "the decoder")
    add_wait_option(p)
    return p


def walks_from_args(args):
    """(class pairs, index pairs) from --from/--to and --from-index/--to-index; both ends or none."""
    from ..errors import UserError

    classes = indices = None
    if (args.from_class is None) != (args.to_class is None):
        raise UserError("give both --from CLASS and --to CLASS (or neither)")
    if (args.from_index is None) != (args.to_index is None):
        raise UserError("give both --from-index I and --to-index J (or neither)")
    if args.from_class is not None:
        classes = [[args.from_class, args.to_class]]
    if args.from_index is not None:
        indices = [[args.from_index, args.to_index]]
    return classes, indices


def run(args) -> int:
    import time

    from ..stages.encode import open_encoded
    from ..stages.walks import interpolation_section
    from ..rundir import RunDir
    from ..settings import resolve_sections

    classes, indices = walks_from_args(args)
    base = RunDir(args.run_dir).config_section("generate")
    if classes is not None or indices is not None:  # walks asked for here replace the run's own
        base.update(walks=classes, walk_indices=indices)
    cfg = resolve_sections(("generate",), {"generate": base}, args=args)["generate"]
    RunDir(args.run_dir).require()          # a missing run is named before the lock is taken
    with RunDir(args.run_dir).lock(wait=args.wait, command="latentatlas interpolate"):
        t0 = time.perf_counter()
        ctx = open_encoded(args.run_dir, device=args.device)
        # No walk asked for: the closest and the farthest pair of class means.
        section = interpolation_section(ctx, cfg)
        for walk in section["walks"]:
            print(f"walk {walk['label']}: {ctx.run.path / walk['png']}  {ctx.run.path / walk['gif']}")
        if "tour" in section:
            print(f"tour through {len(section['tour']['classes'])} class means: {ctx.run.path / section['tour']['gif']}")
        if "traversal" in section:
            print(f"traversals of {len(section['traversal']['dims'])} dimensions: {ctx.run.path / section['traversal']['png']}")
        if "manifold" in section:
            print(f"2-d manifold grid: {ctx.run.path / section['manifold']['png']}")
        print(f"class means: {ctx.run.figures / 'interpolation_class_means.png'}")
        ctx.run.record_timing("interpolate", time.perf_counter() - t0)
    return 0
