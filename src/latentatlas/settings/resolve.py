"""The one settings resolve of a whole run, for the CLI and the Python API alike.

    resolve_settings(preset=None, config=None, *tables) -> RunConfig (frozen)

Precedence, later winning: the defaults < a preset or a config file < `tables` (a run's own
config.json where a caller reads it, then the options or keywords given). The result is frozen:
change a setting with `dataclasses.replace`.
"""

from __future__ import annotations

from ..errors import UserError
from .files import read_config_file, read_preset
from .options import layered
from .run_config import RunConfig

# With neither a preset nor a config file, `latentatlas run` and `la.run` start from this
# preset: our defaults (what `latentatlas run --dataset mnist` runs).
DEFAULT_PRESET = "default-vae"


def resolve_settings(preset: str | None = None, config=None, *tables: dict | None,
                     source: str = "options") -> RunConfig:
    """RunConfig from the defaults, a preset or a config file, then `tables` (lowest first).
    A bad preset or file is named as such, before the options are looked at."""
    if preset and config:
        raise UserError("give a preset or a config file, not both")
    base, where = {}, "defaults"
    if config:
        base, where = read_config_file(config), str(config)
    elif preset:
        base, where = read_preset(preset), f"preset {preset}"
    RunConfig.from_dict(base, where)
    return RunConfig.from_dict(layered(base, *tables), source=source)
