"""One module per sub-command; see `latentatlas.cli` for the contract.

Options that are settings (config.json keys) are made by `latentatlas.settings.
add_section_options` from their one declaration; a command declares here only what
belongs to the command itself (--out, --resume, RUN_DIR, ...).
"""

import argparse


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks. Defaults are written into each option's help
    once, "(default: X)": settings take theirs from the declaration."""
