"""Settings: one declaration per stage, and everything made from it.

    stages.py      DataConfig, ModelConfig, TrainConfig, AnalysisConfig, GenerateConfig:
                   each field's default, type, help text and CLI spelling (the one declaration)
    run_config.py  RunConfig (one section per stage, + a study's quoted figures) <-> config.json
    values.py      type checking of TOML/JSON tables against the declarations
    options.py     argparse options made from the declarations; the precedence rule
    files.py       TOML/JSON configuration files and the shipped presets
    resolve.py     resolve_settings: the one resolve of a run's settings (CLI and Python API)

Precedence, later winning: defaults < a preset or a config file < (the run's own
config.json, where a command reads it) < the options given on the command line.
Resolved settings are frozen dataclasses: `dataclasses.replace` makes a changed copy.
"""

from .files import list_presets, load_config, load_preset, read_config_file, read_preset, save_config
from .options import add_section_options, given_tables, layered, resolve_sections
from .resolve import DEFAULT_PRESET, resolve_settings
from .run_config import SECTION_CLASSES, SECTIONS, RunConfig, StudyConfig, StudyFigure
from .stages import (FEATURE_KINDS, SAMPLER_CHOICES, AnalysisConfig, DataConfig, GenerateConfig, ModelConfig,
                     TrainConfig, parse_projection_spec)
from .values import build_dataclass

__all__ = ["AnalysisConfig", "DataConfig", "GenerateConfig", "ModelConfig", "TrainConfig", "RunConfig",
           "StudyConfig", "StudyFigure", "SECTIONS", "SECTION_CLASSES", "FEATURE_KINDS", "SAMPLER_CHOICES",
           "parse_projection_spec", "build_dataclass", "add_section_options", "given_tables", "layered", "resolve_sections",
           "DEFAULT_PRESET", "resolve_settings", "list_presets", "load_config", "load_preset", "read_config_file", "read_preset", "save_config"]
