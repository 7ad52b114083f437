"""Where a sweep's settings come from: a preset (a run preset as the base, or a sweep preset) or a
config file with a [sweep] section, then the command line.

    [sweep]                      # in a --config file or presets/sweeps/<name>.toml
    seeds = 3
    preset = "default-vae"       # optional: the run preset the trials start from
    cpus_per_trial = 1
    gpus_per_trial = 0
    [sweep.grid]
    "model.latent_dim" = [2, 4, 8]
    "model.beta" = [0.5, 1.0]

The other tables of the file ([data] [model] [train] [analysis] [generate]) are the settings
every trial shares, as in a `latentatlas run --config` file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import UserError
from ..settings import DEFAULT_PRESET, list_presets, read_config_file

SWEEP_KEYS = ("grid", "seeds", "preset", "cpus_per_trial", "gpus_per_trial")


@dataclass
class SweepSource:
    """The base run preset, the shared settings tables, and the [sweep] table (grid, seeds, ...)."""
    preset: str | None
    tables: list = field(default_factory=list)
    sweep: dict = field(default_factory=dict)
    where: str = "defaults"


def _sweep_presets_folder():
    from importlib.resources import files

    return files("latentatlas") / "presets" / "sweeps"


def list_sweep_presets() -> list[str]:
    folder = _sweep_presets_folder()
    if not folder.is_dir():
        return []
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _flat_grid(table, prefix: str = "") -> dict:
    """{"model": {"latent_dim": [..]}} or {"model.latent_dim": [..]} -> {"model.latent_dim": [..]}."""
    out = {}
    for key, value in (table or {}).items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat_grid(value, full + "."))
        else:
            out[full] = value
    return out


def _split(raw: dict, where: str) -> tuple[dict, dict]:
    raw = dict(raw)
    sweep = raw.pop("sweep", None) or {}
    if not isinstance(sweep, dict):
        raise UserError(f"{where}: [sweep] must be a table (grid, seeds, preset, cpus_per_trial, gpus_per_trial)")
    unknown = [k for k in sweep if k not in SWEEP_KEYS]
    if unknown:
        raise UserError(f"{where}: unknown key sweep.{unknown[0]}; [sweep] accepts: {', '.join(SWEEP_KEYS)}")
    sweep = dict(sweep, grid=_flat_grid(sweep.get("grid")))
    return raw, sweep


def sweep_source(preset: str | None = None, config=None) -> SweepSource:
    """The sweep's starting point from --preset (sweep preset or run preset) or --config."""
    import tomllib

    if preset and config:
        raise UserError("give a preset or a config file, not both")
    if config:
        raw, sweep = _split(read_config_file(config), str(config))
        return SweepSource(sweep.pop("preset", None), [raw], sweep, str(config))
    if preset and preset in list_sweep_presets():
        text = (_sweep_presets_folder() / f"{preset}.toml").read_text(encoding="utf-8")
        raw, sweep = _split(tomllib.loads(text), f"sweep preset {preset}")
        return SweepSource(sweep.pop("preset", None), [raw], sweep, f"sweep preset {preset}")
    if preset and preset not in list_presets():
        raise UserError(f"unknown preset {preset!r}; the sweep presets are {', '.join(list_sweep_presets())}, "
                        f"and any run preset may be the base: {', '.join(list_presets())}")
    return SweepSource(preset or DEFAULT_PRESET, [], {}, f"preset {preset or DEFAULT_PRESET}")
