"""One module per sub-command; see `latentatlas.cli` for the contract.

Options that are settings (config.json keys) are made by `latentatlas.settings.
add_section_options` from their one declaration; a command declares here only what
belongs to the command itself (--out, --resume, RUN_DIR, ...).
"""

import argparse


def add_wait_option(p: argparse.ArgumentParser) -> None:
    """--wait: a command that writes a run folder holds its lock; another writer waits or refuses."""
    p.add_argument("--wait", action="store_true",
                   help="if another latentatlas process is writing the run folder, wait for it "
                        "(default: refuse, naming its PID)")


def add_device_option(p: argparse.ArgumentParser, what: str = "the model") -> None:
    """--device: where `what` runs; resolved once by runtime.choose_device (through the run context)."""
    p.add_argument("--device", default=None,
                   help=f"torch device {what} runs on: auto (cuda, mps, cpu; the default), cpu, cuda, cuda:N, mps")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks. Defaults are written into each option's help
    once, "(default: X)": settings take theirs from the declaration."""
