"""Where each figure goes in the report, and the page object that embeds them.

A stage records the report section of each figure it lists in metrics.json (the
figure dict's "section", one of `latentatlas.figures.SECTIONS`); the report puts
it there. A run folder written before figures carried a section falls back to the
section of the metrics.json section that lists the figure (LEGACY_SECTION_OF),
except the few files that release filed elsewhere (LEGACY_FILES).
"""

from __future__ import annotations

import re
from pathlib import Path

from ...figures import SECTIONS as FIGURE_SECTIONS
from ...rundir import RunDir
from .embed import figure_html
from .tables import esc

# (anchor, title): the report's order, fixed by the issue.
SECTIONS = [
    ("data", "Data and configuration"),
    ("study", "The study and ours"),
    ("training", "Training"),
    ("reconstructions", "Reconstructions of test images"),
    ("projections", "Projections: before and after"),
    ("pca", "PCA spectrum"),
    ("probes", "Probes"),
    ("clustering", "Clustering"),
    ("generation", "Generation and the judge"),
    ("walks", "Walks, traversals and decoded means"),
    ("other", "Other figures"),
    ("timings", "Timings"),
]

# For run folders whose figures carry no "section": metrics.json section -> report section,
LEGACY_SECTION_OF = {"data": "data", "train": "training", "encode": "projections", "projections": "projections",
                     "probes": "probes", "clustering": "clustering", "generation": "generation",
                     "judge": "generation", "interpolation": "walks"}
# and the files that release listed in one section but showed in another.
LEGACY_FILES = {"train_progress_recon.gif": "reconstructions", "projections_pca_spectrum.png": "pca",
                "projections_raw_pca_spectrum.png": "pca"}

# How to fill a section that is missing, shown instead of breaking.
HOW_TO = {
    "training": "latentatlas train --out RUN",
    "reconstructions": "latentatlas train --out RUN",
    "projections": "latentatlas analyze RUN",
    "pca": "latentatlas analyze RUN",
    "probes": "latentatlas analyze RUN",
    "clustering": "latentatlas analyze RUN",
    "generation": "latentatlas sample RUN",
    "walks": "latentatlas interpolate RUN",
}


def section_of(metrics_section: str, fig: dict) -> str:
    """The report section of one figure listed in metrics.json[metrics_section]["figures"]."""
    recorded = fig.get("section")
    if recorded in FIGURE_SECTIONS:
        return recorded
    legacy = LEGACY_FILES.get(Path(str(fig.get("path", ""))).name)
    return legacy or LEGACY_SECTION_OF.get(metrics_section, "other")


def place_figures(metrics: dict) -> dict[str, list[dict]]:
    """Every figure listed in metrics.json, in exactly one report section, in the order listed."""
    out: dict[str, list[dict]] = {key: [] for key, _ in SECTIONS}
    for name, value in metrics.items():
        if not isinstance(value, dict):
            continue
        for fig in value.get("figures") or []:
            if isinstance(fig, dict):
                out[section_of(name, fig)].append(fig)
    out["projections"].sort(key=_projection_order)
    return out


def _projection_order(fig: dict) -> tuple:
    """Each method's latent ("after") figures, then its raw-pixel ("before") one; stable otherwise."""
    name = Path(str(fig.get("path", ""))).stem
    m = re.match(r"projections_(raw_)?([a-z]+)_(\d)d", name)
    if not m:
        return (1, "", 0, 0)
    order = ["pca", "lda", "tsne", "umap"]
    method = order.index(m.group(2)) if m.group(2) in order else len(order)
    return (0, method, int(m.group(3)) if not m.group(1) else 2, 1 if m.group(1) else 0)


class Page:
    """Collects the sections' HTML and counts interactive plots (plotly.js goes in once)."""

    def __init__(self, run: RunDir):
        self.run = run
        self.n_plots = 0
        self.n_figures = 0

    def figures(self, figs: list[dict], wide: bool = False) -> str:
        parts = []
        for fig in figs:
            self.n_figures += 1
            body, n = figure_html(self.run.path, fig, wide=wide, uid=f"la-fig-{self.n_figures}")
            self.n_plots += n
            parts.append(body)
        return f'<div class="figures">{"".join(parts)}</div>' if parts else ""


def not_run(key: str, run: RunDir) -> str:
    cmd = HOW_TO.get(key)
    how = f" <code>{esc(cmd.replace('RUN', str(run.path)))}</code> adds it." if cmd else ""
    return f'<p class="note">This stage did not run for this report.{how}</p>'
