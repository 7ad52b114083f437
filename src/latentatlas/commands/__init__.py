"""One module per sub-command; see `latentatlas.cli` for the contract."""

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows defaults in --help and keeps the description's line breaks."""


def add_common_data_args(p: argparse.ArgumentParser) -> None:
    """Options every data-reading command shares."""
    p.add_argument("--data-dir", default=None,
                   help="folder holding the dataset's IDX files (else $LATENTATLAS_DATA, the cache, "
                        "/usr/share/datasets/<name>/, then a verified download)")
