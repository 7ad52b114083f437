"""`latentatlas data`: not implemented yet (placeholder until its issue lands)."""

from . import HelpFormatter


def add_parser(sub):
    p = sub.add_parser("data", help="(not yet available)", formatter_class=HelpFormatter)
    return p


def run(args) -> int:
    from ..errors import UserError

    raise UserError("'data' is not available in this version yet")
