"""The analysis sections as typed units: what each reads, what it writes, where it is shown.

A section is a function of the analysis context (context.py) that returns its metrics.json
section: its figures listed inside ("figures") and its steps' seconds ("timings"). The
scheduler (scheduler.py) runs the sections asked for in one process or side by side in lanes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .clustering import clustering_section
from .probes import probes_section
from .projections import projections_section


@dataclass(frozen=True)
class Section:
    name: str                                   # its metrics.json section and step prefix
    run: Callable                               # AnalysisContext -> the section's result dict
    asked: Callable                             # (AnalysisConfig, specs) -> is it asked for?
    inputs: tuple[str, ...]                     # what it reads from the context
    figures: str                                # the files it draws, under figures/
    report: tuple[str, ...]                     # the report sections its figures belong to


SECTIONS = (
    Section("projections", projections_section, lambda cfg, specs: bool(specs),
            inputs=("codes", "labels", "images", "factors", "knn graph"),
            figures="projections_*.png, projections_*_3d.html", report=("projections", "pca")),
    Section("probes", probes_section, lambda cfg, specs: bool(cfg.probes),
            inputs=("codes", "labels", "factors"), figures="probes_*_confusion.png", report=("probes",)),
    Section("clustering", clustering_section, lambda cfg, specs: bool(cfg.clusterers),
            inputs=("codes", "labels", "knn graph"), figures="clustering_*.png", report=("clustering",)),
)


def asked(cfg, specs) -> list[Section]:
    """The sections this analysis runs, in the order one process runs them."""
    return [s for s in SECTIONS if s.asked(cfg, specs)]
