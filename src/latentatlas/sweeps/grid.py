"""What a sweep runs: the grid of settings, checked, and one trial per point and seed.

    spec = sweep_spec({"model.latent_dim": [2, 4, 8]}, seeds=3, text_grid=parse_grid_options(["model.beta=0.5,1"]))
    trials = plan_trials(spec, preset="default-vae", tables=[given])       # [Trial], settings resolved once

Every check here is made before Ray starts, each in one line: a key that is not a setting
(with the keys there are), a key given no values, a grid of one point, a value of the wrong
type for its setting. A value of the right type that its setting refuses (latent_dim = 0) is
the trial's own failure, recorded as such while the others run.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field, fields
from typing import get_args, get_type_hints

from ..errors import UserError
from ..settings import SECTION_CLASSES, SECTIONS, RunConfig, resolve_settings
from ..settings.values import _check_value, _type_name

SEED_KEY = "train.seed"


@dataclass(frozen=True)
class SweepSpec:
    """The grid ({"section.field": [values]}, in the order given) and the seeds per point."""
    grid: dict = field(default_factory=dict)
    seeds: int = 1

    def to_dict(self) -> dict:
        return {"grid": {k: list(v) for k, v in self.grid.items()}, "seeds": self.seeds}


@dataclass(frozen=True)
class Trial:
    """One point of the grid with one seed: its folder name, its settings, its frozen config."""
    name: str
    settings: dict                      # {"model.latent_dim": 4, "train.seed": 0}: what the grid set
    config: RunConfig | None            # None when the settings were refused (error says why)
    error: str | None = None

    @property
    def config_hash(self) -> str:
        """Hash of the resolved settings: a finished trial is reused only under the same one."""
        body = json.dumps(self.config.to_dict() if self.config else self.settings, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:16]


def valid_keys() -> list[str]:
    return [f"{s}.{f.name}" for s in SECTIONS for f in fields(SECTION_CLASSES[s]) if f.init]


def _resolve_key(key: str) -> tuple[str, str]:
    """"model.latent_dim" or a field name that one section has ("latent_dim") -> (section, field)."""
    key = key.strip()
    section, dot, name = key.rpartition(".")
    keys = valid_keys()
    if dot and f"{section}.{name}" in keys:
        return section, name
    if not dot:
        owners = [k for k in keys if k.endswith("." + key)]
        if len(owners) == 1:
            return tuple(owners[0].split("."))
        if len(owners) > 1:
            raise UserError(f"grid key {key!r} is a setting of several stages; say which: {', '.join(owners)}")
    close = difflib.get_close_matches(key, keys, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    wanted = [k for k in keys if k.startswith(section + ".")] if section in SECTIONS else keys
    raise UserError(f"unknown grid key {key!r}{hint}; the keys are SECTION.FIELD: {', '.join(wanted)}")


def _field_type(section: str, name: str):
    return get_type_hints(SECTION_CLASSES[section])[name]


def _is_listy(tp) -> bool:
    return "list" in str(tp)


def _from_text(text: str, tp, key: str):
    """One grid value typed on the command line, as its setting's type ("4" -> 4, "on" -> True)."""
    text = text.strip()
    kinds = [a for a in (get_args(tp) or (tp,)) if a is not type(None)]
    if text.lower() in ("none", "null") and type(None) in get_args(tp):
        return None
    for kind in (bool, int, float):
        if kind in kinds:
            try:
                if kind is bool:
                    return {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}[
                        text.lower()]
                return kind(text)
            except (ValueError, KeyError):
                continue
    if str in kinds or any(getattr(k, "__origin__", None) is not None for k in kinds):
        return text
    wanted = " or ".join(_type_name(k) for k in kinds)
    raise UserError(f"--grid {key}: {text!r} is not {wanted}, which {key} takes")


def _checked(section: str, name: str, values, from_text: bool) -> list:
    key = f"{section}.{name}"
    tp = _field_type(section, name)
    if _is_listy(tp):
        raise UserError(f"grid key {key} is a list setting; a grid sweeps single values (numbers, words, "
                        "true/false): fix the list with --" + name.replace("_", "-") + " instead")
    if not isinstance(values, (list, tuple)):
        values = [values]
    out = []
    for v in values:
        v = _from_text(str(v), tp, key) if from_text else v
        try:
            out.append(_check_value(v, tp, key, "grid"))
        except UserError:
            wanted = " or ".join(_type_name(k) for k in (get_args(tp) or (tp,)) if k is not type(None))
            raise UserError(f"grid {key} = {v!r} has the wrong type; {key} takes {wanted}") from None
    if not out:
        raise UserError(f"grid key {key} has no values; give two or more, e.g. --grid {key}=2,4,8")
    if len(set(map(repr, out))) != len(out):
        raise UserError(f"grid key {key} repeats a value ({', '.join(map(repr, out))}); give each once")
    return out


def sweep_spec(grid: dict | None = None, seeds: int = 1, text_grid: dict | None = None,
               extra_grid: dict | None = None) -> SweepSpec:
    """A checked SweepSpec from typed {key: values} (a [sweep.grid] table), more typed ones
    (la.sweep's grid=) and the command line's {key: [text]} (--grid), a later one replacing a
    key an earlier one gives."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise UserError(f"--seeds {seeds!r}: give a whole number of at least 1")
    if not grid and not text_grid and not extra_grid:
        raise UserError("the grid is empty: give --grid KEY=V1,V2,... (e.g. --grid model.latent_dim=2,4,8) "
                        "or a [sweep.grid] table in the --config file")
    checked: dict = {}
    for source, from_text in ((grid or {}, False), (extra_grid or {}, False), (text_grid or {}, True)):
        seen = set()
        for key, values in source.items():
            section, name = _resolve_key(key)
            full = f"{section}.{name}"
            if full in seen:
                raise UserError(f"grid key {full} is given twice; give its values once")
            seen.add(full)
            checked[full] = _checked(section, name, values, from_text)   # a replaced key keeps its place
    if SEED_KEY in checked and seeds > 1:
        raise UserError(f"the grid sweeps {SEED_KEY} and --seeds is {seeds}: use one of the two")
    points = math.prod(len(v) for v in checked.values())
    if points < 2:
        only = ", ".join(f"{k}={v[0]}" for k, v in checked.items())
        raise UserError(f"the grid has one point ({only}): a sweep needs two or more settings to compare; "
                        "give more values, or use `latentatlas run` for one run")
    return SweepSpec(grid=checked, seeds=seeds)


def parse_grid_options(items) -> dict:
    """--grid KEY=V1,V2 (repeatable) -> {KEY: ["V1", "V2"]}; '=' missing or no value is one line."""
    grid: dict = {}
    for item in items or []:
        key, eq, text = str(item).partition("=")
        if not eq or not key.strip():
            raise UserError(f"--grid {item!r}: write KEY=V1,V2,... (e.g. --grid model.latent_dim=2,4,8)")
        values = [t for t in text.split(",") if t.strip()]
        if not values:
            raise UserError(f"grid key {key.strip()} has no values; give two or more, e.g. "
                            f"--grid {key.strip()}=2,4,8")
        if key.strip() in grid:
            raise UserError(f"grid key {key.strip()} is given twice; give its values once")
        grid[key.strip()] = values
    return grid


def _value_text(v) -> str:
    text = "none" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", text)


def trial_name(settings: dict) -> str:
    """"latent_dim=4_beta=0.5_seed=0": the swept settings by field name (section.field where two
    swept keys share one), in the grid's order; a folder name on any file system."""
    def short_of(key: str) -> str:          # "model.name" -> "model", "model.latent_dim" -> "latent_dim"
        section, name = key.split(".")
        return section if name == "name" else name

    names = [short_of(k) for k in settings]
    parts = []
    for key, v in settings.items():
        short = short_of(key)
        parts.append(f"{short if names.count(short) == 1 else key}={_value_text(v)}")
    return "_".join(parts)


def grid_points(spec: SweepSpec) -> list[dict]:
    """Every {key: value} of the grid, seeds last ({"train.seed": i} when seeds > 1)."""
    keys = list(spec.grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(spec.grid[k] for k in keys))]
    if spec.seeds > 1:
        points = [dict(p, **{SEED_KEY: s}) for p in points for s in range(spec.seeds)]
    return points


def _tables(settings: dict) -> dict:
    out: dict = {}
    for key, value in settings.items():
        section, name = key.split(".")
        out.setdefault(section, {})[name] = value
    return out


def plan_trials(spec: SweepSpec, preset: str | None = None, tables=(), fixed: dict | None = None) -> list[Trial]:
    """One Trial per grid point and seed, its settings resolved once (defaults < preset < tables <
    fixed < the point) and frozen. A point whose settings are refused keeps its one-line error."""
    out = []
    for point in grid_points(spec):
        name = trial_name(point)
        try:
            cfg = resolve_settings(preset, None, *tables, fixed, _tables(point), source=f"trial {name}")
            out.append(Trial(name, point, cfg))
        except UserError as exc:
            out.append(Trial(name, point, None, str(exc)))
    return out
