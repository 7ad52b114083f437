"""Settings from files: TOML/JSON configuration files and the shipped presets."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from .run_config import RunConfig


def read_config_file(path) -> dict:
    """The raw table of a TOML or JSON configuration file (UserError if unreadable)."""
    import json
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist; give a .toml or .json file")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        if path.suffix.lower() == ".toml":
            return tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path} is not valid {path.suffix[1:].upper()} ({exc}); fix the file") from None
    raise UserError(f"config file {path} must end in .toml or .json")


def load_config(path) -> RunConfig:
    """A RunConfig from a TOML or JSON file; missing sections and keys take their defaults."""
    return RunConfig.from_dict(read_config_file(path), source=str(path))


def save_config(path, cfg: RunConfig) -> None:
    """Write the resolved configuration as JSON, atomically."""
    from ..rundir import atomic_write_json

    atomic_write_json(path, cfg.to_dict())


def _presets_folder():
    from importlib.resources import files

    return files("latentatlas") / "presets"


def list_presets() -> list[str]:
    """Names of the presets shipped with the package (presets/<name>.toml)."""
    folder = _presets_folder()
    if not folder.is_dir():
        return []
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def read_preset(name: str) -> dict:
    """The raw table of a preset; UserError naming the presets that exist."""
    import tomllib

    names = list_presets()
    if name not in names:
        raise UserError(f"unknown preset {name!r}; the presets are: {', '.join(names) or '(none installed)'}")
    text = (_presets_folder() / f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def load_preset(name: str) -> RunConfig:
    return RunConfig.from_dict(read_preset(name), source=f"preset {name}")
