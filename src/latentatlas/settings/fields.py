"""How one setting is declared: a dataclass field whose metadata carries its help text
and its command-line spelling, so that every parser, file loader and validator is made
from the same line.

    latent_dim: int | None = setting(None, "size of the latent code (>= 1)")

The flag is `--` + the field name with dashes unless `flag` says otherwise; `own_flag`
is the spelling in the section's own command where it differs from `run`'s (e.g.
generate.seed is `--seed` in `sample` but `--generate-seed` in `run`, where `--seed`
is training's). A field with `cli=False` is a file-only key.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, field


def setting(default=MISSING, help: str = "", *, factory=None, flag: str | None = None,
            own_flag: str | None = None, aliases: tuple[str, ...] = (), parse=None,
            metavar: str | None = None, choices=None, nargs=None, action=None,
            cli: bool = True, default_text: str | None = None):
    """A dataclass field with its help text and CLI spelling as metadata.

    parse: a function str -> value for argparse (default: chosen from the annotation);
    default_text: what --help says the default is, where repr(default) would mislead.
    """
    meta = {"help": help, "flag": flag, "own_flag": own_flag, "aliases": tuple(aliases), "parse": parse,
            "metavar": metavar, "choices": choices, "nargs": nargs, "action": action, "cli": cli,
            "default_text": default_text}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# -- parsers for list-valued options (argparse `type=`) --------------------------------------

def csv_list(text: str) -> list[str]:
    """"a,b, c" -> ["a", "b", "c"]; "none" or "" -> [] (an empty list skips that part)."""
    items = [t.strip() for t in str(text).split(",") if t.strip()]
    return [] if items == ["none"] else items


def csv_names(text: str) -> list[str]:
    """"1,4,8" -> ["1", "4", "8"] (class labels or names; no special words)."""
    return [t.strip() for t in str(text).split(",") if t.strip()]


def csv_ints(text: str) -> list[int]:
    try:
        return [int(t) for t in csv_names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}") from None


def widths(text: str) -> int | list[int]:
    """--hidden-dim: '512' -> 512 (one dense layer), '1024,256' -> [1024, 256] (a deeper bottleneck)."""
    values = csv_ints(text)
    if not values:
        raise argparse.ArgumentTypeError(f"expected a width or comma-separated widths, got {text!r}")
    return values[0] if len(values) == 1 else values


def int_or_all(text: str) -> int | None:
    """A sample size where 0 means every point (None in the settings)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number (0 = all), got {text!r}") from None
    return None if n == 0 else n
