"""Configuration: one stdlib dataclass per stage, composed into a run's config.json.

Each stage's dataclass lives here so that `config.json`, presets (TOML) and the
CLI share one definition. Field names are the JSON/TOML keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DataConfig:
    name: str = "mnist"                 # registry name, "folder:PATH" or "npz:PATH"
    data_dir: str | None = None         # explicit folder (else LATENTATLAS_DATA, cache, system, download)
    classes: list[str] | None = None    # subset by label or class name, e.g. ["1", "4", "8"]
    image_size: int | None = None       # resize user images to this (square); None keeps the dataset's
    test_fraction: float = 0.2          # used only where the dataset has no split of its own
    split_seed: int = 0


# --- ModelConfig, TrainConfig: owned by the training issue (replace this line) ---


# --- AnalysisConfig: owned by the analysis issue (replace this line) ---


# --- GenerateConfig: owned by the generation issue (replace this line) ---


# --- RunConfig, load/save/validate, presets: owned by the run/report issue (replace this line) ---
