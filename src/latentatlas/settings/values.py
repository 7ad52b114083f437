"""Checking a settings table against its dataclass: every key a field, every value of the
field's annotated type, so a typo or a wrong type ends in one line naming the key."""

from __future__ import annotations

import difflib
from dataclasses import fields, is_dataclass
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ..errors import UserError


def _type_name(tp) -> str:
    origin = get_origin(tp)
    if tp is type(None):
        return "nothing (omit the key)"
    if tp is Any:
        return "any value"
    if origin in (Union, UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        plural = {str: "strings", int: "integers", float: "numbers", bool: "true/false values"}
        return f"a list of {plural.get(args[0], _type_name(args[0]))}" if args else "a list"
    if origin is dict:
        return "a table"
    if is_dataclass(tp):
        return "a table"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            dict: "a table", list: "a list"}.get(tp, getattr(tp, "__name__", str(tp)))


def _check_value(value, tp, key: str, source: str):
    """Return `value` (ints widened to float where a float is wanted) or raise UserError."""
    def bad():
        raise UserError(f"{source}: {key} = {value!r} has the wrong type; expected {_type_name(tp)}")

    if tp is Any:
        return value
    origin = get_origin(tp)
    if origin in (Union, UnionType):
        options = [a for a in get_args(tp) if value is None or a is not type(None)]
        if len(options) == 1:  # `X | None` given a value: check X, whose message is more precise
            return _check_value(value, options[0], key, source)
        for arg in options:
            try:
                return _check_value(value, arg, key, source)
            except UserError:
                continue
        bad()
    if tp is type(None):
        return value if value is None else bad()
    if origin is Literal:
        return value if value in get_args(tp) else bad()
    if is_dataclass(tp):
        return build_dataclass(tp, value, key, source)
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            bad()
        args = get_args(tp)
        item = args[0] if args else Any
        items = [_check_value(v, item, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            bad()
        args = get_args(tp)
        return {k: _check_value(v, args[1], f"{key}.{k}", source) for k, v in value.items()} if args else value
    if tp is bool:
        return value if isinstance(value, bool) else bad()
    if tp is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else bad()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        bad()
    if tp is str:
        return value if isinstance(value, str) else bad()
    if isinstance(tp, type):
        return value if isinstance(value, tp) else bad()
    return value  # an annotation we cannot check (a forward reference): accept


def build_dataclass(cls, raw, section: str, source: str = "config"):
    """cls(**raw) after checking every key is a field and every value has the field's type."""
    if is_dataclass(raw) and isinstance(raw, cls):
        return raw
    if not isinstance(raw, dict):
        raise UserError(f"{source}: [{section}] must be a table of settings, not {type(raw).__name__}")
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls) if f.init]
    kwargs = {}
    for key, value in raw.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"{source}: unknown key {section}.{key}{hint}; "
                            f"[{section}] accepts: {', '.join(names)}")
        kwargs[key] = _check_value(value, hints.get(key, Any), f"{section}.{key}", source)
    try:
        return cls(**kwargs)
    except UserError:
        raise
    except (TypeError, ValueError) as exc:  # the dataclass's own validation
        raise UserError(f"{source}: [{section}] {exc}") from None
