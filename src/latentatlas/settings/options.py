"""Command-line options made from the settings declarations, and the precedence rule.

    add_section_options(parser, "train")          every TrainConfig field as an option
    add_section_options(parser, "generate", own=True, only=("samplers", "seed"))
    given = given_tables(args)                     {section: {field: value}} the user typed
    tables = layered(preset_table, file_table, given)

An option's default is argparse.SUPPRESS, so the namespace holds exactly the options
given on the line: nothing has to guess whether a value was typed or defaulted, and
--help shows each default once, taken from the dataclass.

Precedence, later winning: the dataclass defaults < a preset or a config file (< the
run's own config.json where a command reads it) < the options given.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from types import UnionType
from typing import Literal, Union, get_args, get_origin, get_type_hints

from .run_config import SECTION_CLASSES

DEST_PREFIX = "setting:"


def dest(section: str, name: str) -> str:
    """The argparse dest of a setting: unique across sections (train.seed vs analysis.seed)."""
    return f"{DEST_PREFIX}{section}.{name}"


def _default_text(f) -> str | None:
    meta = f.metadata
    if meta.get("default_text") is not None:
        return meta["default_text"]
    if f.default is not MISSING:
        value = f.default
    elif f.default_factory is not MISSING:
        value = f.default_factory()
    else:
        return None
    if isinstance(value, list):
        return ",".join(map(str, value)) if value else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _is_bool(tp) -> bool:
    """bool, bool | None, bool | Literal["auto"]: an on/off switch on the command line."""
    if tp is bool:
        return True
    if get_origin(tp) in (Union, UnionType):
        args = [a for a in get_args(tp) if a is not type(None) and get_origin(a) is not Literal]
        return args == [bool]
    return False


def _scalar_type(tp):
    """int | None -> int; the converter argparse applies to the typed text."""
    args = [a for a in get_args(tp) if a is not type(None)] if get_args(tp) else [tp]
    for kind in (int, float, str):
        if kind in args:
            return kind
    return str


def _argparse_kwargs(f, tp, section: str) -> dict:
    meta = f.metadata
    kw = {"dest": dest(section, f.name), "default": argparse.SUPPRESS}
    action = meta.get("action")
    if action in ("store_true", "store_false"):
        kw["action"] = action
        kw["help"] = meta["help"]
        return kw
    shown = _default_text(f)
    kw["help"] = meta["help"] + (f" (default: {shown})" if shown is not None else "")
    if action is None and _is_bool(tp):
        kw["action"] = argparse.BooleanOptionalAction
        return kw
    if action is not None:
        kw["action"] = action
    for key in ("nargs", "choices", "metavar"):
        if meta.get(key) is not None:
            kw[key] = meta[key]
    if "metavar" not in kw and "choices" not in kw:
        kw["metavar"] = f.name.upper()
    # Options taking several words (--sampler a b, --walk A B) are lists of names.
    kw["type"] = meta.get("parse") or (str if meta.get("nargs") else _scalar_type(tp))
    return kw


def flag_of(f, own: bool) -> str:
    meta = f.metadata
    if own and meta.get("own_flag"):
        return meta["own_flag"]
    return meta.get("flag") or "--" + f.name.replace("_", "-")


def add_section_options(parser, section: str, *, own: bool = False, only=None, skip=(), title: str | None = None):
    """Add one option per setting of `section` to `parser` (in an argument group).

    own: the section's own command (its `own_flag` spellings apply); only / skip: field
    names to include / leave out (a command exposes the settings that mean something there).
    """
    cls = SECTION_CLASSES[section]
    hints = get_type_hints(cls)
    group = parser.add_argument_group(title or f"{section} settings")
    for f in fields(cls):
        if not f.metadata.get("cli", False) or f.name in skip or (only is not None and f.name not in only):
            continue
        names = [flag_of(f, own)] + [a for a in f.metadata.get("aliases", ()) if a.startswith("-")]
        group.add_argument(*names, **_argparse_kwargs(f, hints[f.name], section))
    return group


def given_tables(args) -> dict[str, dict]:
    """{section: {field: value}} for exactly the setting options given on the command line."""
    out: dict[str, dict] = {}
    for key, value in vars(args).items():
        if key.startswith(DEST_PREFIX):
            section, _, name = key[len(DEST_PREFIX):].partition(".")
            out.setdefault(section, {})[name] = value
    return out


def resolve_sections(sections, *tables: dict | None, args=None, source: str = "options") -> dict:
    """{section: its dataclass} from `tables` (lowest precedence first) and then the options
    in `args`; every key and type checked, errors in one line."""
    from .values import build_dataclass

    merged = layered(*tables, given_tables(args) if args is not None else None)
    return {s: build_dataclass(SECTION_CLASSES[s], merged.get(s, {}), s, source) for s in sections}


def layered(*tables: dict | None) -> dict[str, dict]:
    """Merge tables of sections key by key, later ones winning (the precedence rule)."""
    out: dict[str, dict] = {}
    for table in tables:
        for section, values in (table or {}).items():
            if isinstance(values, dict):
                out.setdefault(section, {}).update(values)
            else:
                out[section] = values
    return out
