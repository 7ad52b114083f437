"""`latentatlas compare RUN_DIR...`: the headline figures of several runs in one table."""

from . import HelpFormatter


def add_parser(sub):
    p = sub.add_parser(
        "compare", help="a table of the headline figures of several runs",
        description="One row per run: model, latent size, epochs, training seconds, test loss, the best "
                    "probe and cluster accuracy, the class-conditional sampling fidelity and the lowest "
                    "Frechet distance. Figures a run lacks show as an em dash.",
        formatter_class=HelpFormatter)
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run directories, or sweep folders (`latentatlas sweep --out`: one row per trial)")
    p.add_argument("--format", choices=("text", "markdown", "html"), default="text", help="table format (default: text)")
    p.add_argument("--output", default=None, metavar="FILE", help="also write the table to this file")
    return p


def expand_sweeps(paths) -> list:
    """Each sweep folder replaced by its trials' run folders, in the sweep's order."""
    from ..sweeps import SweepFolder, trial_dirs

    out = []
    for path in paths:
        out.extend(trial_dirs(path) if SweepFolder(path).is_sweep() else [path])
    return out


def run(args) -> int:
    from ..stages.compare import compare_runs, format_table

    text = format_table(compare_runs(expand_sweeps(args.run_dirs)), args.format)
    print(text)
    if args.output:
        from ..rundir import atomic_write_text

        atomic_write_text(args.output, text + "\n")
    return 0
