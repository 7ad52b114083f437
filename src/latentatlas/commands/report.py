"""`latentatlas report RUN_DIR`: write RUN_DIR/report.html from what the stages left there."""

from . import HelpFormatter, add_wait_option


def add_parser(sub):
    p = sub.add_parser(
        "report", help="write the self-contained HTML report of a run",
        description="Write RUN_DIR/report.html: one file that opens offline (images embedded, plotly.js "
                    "inlined once), built from the run's config.json, metrics.json and figures.",
        formatter_class=HelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by `latentatlas run` or `train`")
    p.add_argument("--baseline", default=None, metavar="RUN_DIR",
                   help="our default run to put beside a study preset's published figures "
                        "(default: the study's baseline preset name, looked for beside RUN_DIR)")
    add_wait_option(p)
    return p


def run(args) -> int:
    from ..stages.report.html import write_report
    from ..rundir import RunDir

    RunDir(args.run_dir).require()          # a missing run is named before the lock is taken
    with RunDir(args.run_dir).lock(wait=args.wait, command="latentatlas report"):
        path = write_report(args.run_dir, baseline=args.baseline)
    print(f"report: {path}")
    return 0
