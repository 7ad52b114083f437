"""Command-line entry point: `latentatlas <command> ...`.

Each sub-command lives in `latentatlas.commands.<name>` and exposes two
functions:

    add_parser(subparsers)   register its parser (argparse only, no heavy imports)
    run(args) -> int         do the work (import torch / sklearn here, not at top)

Keeping heavy imports out of `add_parser` is what lets `latentatlas --help`
answer in a fraction of a second.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import UserError

# Order is the order shown in --help: the pipeline, then the tools around it.
COMMANDS = ["run", "sweep", "data", "train", "encode", "analyze", "sample", "interpolate", "judge", "report", "compare",
            "explore", "export"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentatlas",
        description="Train convolutional autoencoders and VAEs on image datasets and map "
        "what their latent space learned: projections, probes, clusters, samples, walks, "
        "and one self-contained HTML report.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"latentatlas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"latentatlas.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(f"latentatlas.commands.{args.command}")
    try:
        return int(module.run(args) or 0)
    except UserError as exc:
        print(f"latentatlas: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("latentatlas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
