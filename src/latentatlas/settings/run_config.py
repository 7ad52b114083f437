"""A run's configuration: one dataclass per stage, composed; written as config.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import UserError
from .stages import AnalysisConfig, DataConfig, GenerateConfig, ModelConfig, TrainConfig
from .values import build_dataclass

# Section name in config.json / TOML -> its dataclass; the order of the pipeline.
SECTION_CLASSES = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig,
                   "analysis": AnalysisConfig, "generate": GenerateConfig}
SECTIONS = tuple(SECTION_CLASSES)


@dataclass(frozen=True)
class StudyFigure:
    """One figure quoted from a study's write-up, and where our number for it lives."""
    name: str                                  # what is measured, e.g. "test loss after 20 epochs"
    published: float | int | str | None = None  # the study's figure, quoted (a number or its words)
    metric: str | None = None                  # dotted path into metrics.json for our number
    better: str | None = None                  # "lower" | "higher" | None (no direction)
    note: str | None = None                    # how the two are compared, caveats


@dataclass(frozen=True)
class StudyConfig:
    """A preset's quotation of the study it rebuilds (the only typed-in figures)."""
    title: str = ""
    source: str = ""                           # where the quoted figures come from
    baseline: str | None = None                # our run to compare with, e.g. "default-vae" (runs/<baseline>)
    baseline_options: str | None = None        # options that run it from its preset, e.g. "--dataset fashion-mnist"
    figures: list[StudyFigure] = field(default_factory=list)


@dataclass(frozen=True)
class RunConfig:
    """Everything one `latentatlas run` does: one section per stage (+ an optional study)."""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    study: StudyConfig | None = None

    def section_dict(self, section: str) -> dict:
        return asdict(getattr(self, section))

    def to_dict(self) -> dict:
        out = {section: self.section_dict(section) for section in SECTIONS}
        if self.study is not None:
            out["study"] = asdict(self.study)
        return out

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config") -> "RunConfig":
        """From a table of sections; missing sections and keys take their defaults."""
        if not isinstance(raw, dict):
            raise UserError(f"{source}: expected a table of sections ({', '.join(SECTIONS)}, study)")
        allowed = SECTIONS + ("study",)
        for key in raw:
            if key == "sweep":           # a sweep's file: many runs, not one
                raise UserError(f"{source}: a [sweep] section is for many runs: use `latentatlas sweep "
                                f"--config {source}` (or remove [sweep] to train one run)")
            if key not in allowed:
                raise UserError(f"{source}: unknown section {key!r}; the sections are {', '.join(allowed)}")
        kwargs = {section: build_dataclass(sec_cls, raw[section], section, source)
                  for section, sec_cls in SECTION_CLASSES.items() if section in raw}
        if "study" in raw:
            kwargs["study"] = build_dataclass(StudyConfig, raw["study"], "study", source)
        return cls(**kwargs)
