"""Static (matplotlib, PNG) figures of the latent analysis.

Every function writes one PNG atomically and returns its path; nothing is
shown on screen and no backend is chosen: each figure has its own Agg canvas
(`latentatlas.figures.canvas`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .canvas import new_figure, save_figure


def _colors(k: int):
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def _save(fig, path) -> Path:
    return save_figure(fig, Path(path), dpi=110, bbox_inches="tight")


def scatter_2d(embedding, labels, class_names, path, title: str, axis_names=("1", "2"),
               note: str | None = None, ellipses=None, ellipse_label: str = "fitted Gaussians") -> Path:
    """Points (N, 2) coloured by class, class names in the legend.

    ellipses: optional list of (mean (2,), cov (2, 2)); drawn at 1 and 2 standard
    deviations (study 003 drew a mixture's components over its 2-d latent).
    note: one line under the title (what was subsampled, which features, ...).
    """
    embedding = np.asarray(embedding)
    labels = np.asarray(labels)
    k = len(class_names)
    colors = _colors(k)
    fig = new_figure(7.5, 6.5)
    ax = fig.subplots()
    size = float(np.clip(20000 / max(len(embedding), 1), 0.3, 12))   # 70,000 points -> dots of 0.3
    order = np.random.default_rng(0).permutation(len(embedding))      # no class drawn entirely on top
    ax.scatter(embedding[order, 0], embedding[order, 1], c=[colors[int(c)] for c in labels[order]],
               s=size, linewidths=0, alpha=0.7, rasterized=True)
    for i, name in enumerate(class_names):
        ax.scatter([], [], color=colors[i], s=30, label=str(name))
    if ellipses:
        _draw_ellipses(ax, ellipses, label=ellipse_label)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, markerscale=1.2,
              title="class", fontsize=9)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=10)
    return _save(fig, path)


def scatter_2d_values(embedding, values, path, title: str, value_name: str, axis_names=("1", "2"),
                      note: str | None = None, cyclic: bool = False) -> Path:
    """Points (N, 2) coloured by a per-point value (a factor such as mnist-color's hue), with a
    colour bar; cyclic=True draws a value in [0, 1) on the circular "hsv" map, whose colours run
    through the hues in order (a hue's point is drawn in that hue; 0 and 1 meet at red)."""
    embedding = np.asarray(embedding)
    values = np.asarray(values, dtype=float)
    fig = new_figure(7.5, 6.5)
    ax = fig.subplots()
    size = float(np.clip(20000 / max(len(embedding), 1), 0.3, 12))
    order = np.random.default_rng(0).permutation(len(embedding))
    art = ax.scatter(embedding[order, 0], embedding[order, 1], c=values[order], s=size, linewidths=0, alpha=0.8,
                     cmap="hsv" if cyclic else "viridis", vmin=0.0 if cyclic else None, vmax=1.0 if cyclic else None,
                     rasterized=True)
    fig.colorbar(art, ax=ax, label=value_name, fraction=0.046, pad=0.03)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=10)
    return _save(fig, path)


def _draw_ellipses(ax, gaussians, label: str, n_std=(1.0, 2.0)):
    """Each (mean, cov) as ellipses: axes along the eigenvectors, half-lengths n * sqrt(eigenvalue)."""
    from matplotlib.patches import Ellipse

    first = True
    for mean, cov in gaussians:
        vals, vecs = np.linalg.eigh(np.asarray(cov, dtype=float))      # ascending eigenvalues
        vals = np.clip(vals, 0, None)
        angle = np.degrees(np.arctan2(vecs[1, -1], vecs[0, -1]))        # direction of the largest
        for n in n_std:
            ax.add_patch(Ellipse(mean, 2 * n * np.sqrt(vals[-1]), 2 * n * np.sqrt(vals[0]), angle=angle,
                                 fill=False, edgecolor="black", linewidth=1.2 if n == 1 else 0.7,
                                 linestyle="-" if n == 1 else "--", label=label if first else None))
            first = False
        ax.plot(*mean, marker="x", color="black", markersize=6)


def spectrum(explained_ratio, path, title: str, components_for: dict | None = None, note: str | None = None) -> Path:
    """PCA eigen-spectrum: explained variance per component (bars) and cumulated (line)."""
    r = np.asarray(explained_ratio, dtype=float)
    cum = np.cumsum(r)
    n = len(r)
    fig = new_figure(7.5, 4.5)
    ax = fig.subplots()
    x = np.arange(1, n + 1)
    ax.bar(x, r, color="#4c72b0", label="per component")
    ax.set_xlabel("principal component")
    ax.set_ylabel("explained variance ratio")
    ax2 = ax.twinx()
    ax2.plot(x, cum, color="#dd8452", marker="." if n <= 60 else None, label="cumulated")
    ax2.set_ylim(0, 1.02)
    ax2.set_ylabel("cumulated")
    for q, k in (components_for or {}).items():
        ax2.axhline(float(q.rstrip("%")) / 100, color="grey", linewidth=0.6, linestyle=":")
        ax2.annotate(f"{q}: {k}", (k, float(q.rstrip('%')) / 100), textcoords="offset points", xytext=(4, -10),
                     fontsize=8)
    if n > 60:
        ax.set_xscale("log")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="center right", frameon=False)
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=10)
    return _save(fig, path)


def confusion_matrix(cm, class_names, path, title: str, xlabel="predicted", ylabel="true",
                     row_names=None) -> Path:
    """Counts in each cell, rows normalised for the colour (so small classes read as well)."""
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    k = max(cm.shape)
    fig = new_figure(1.0 + 0.55 * k, 0.8 + 0.5 * k)
    ax = fig.subplots()
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7 if k > 10 else 8,
                    color="white" if frac[i, j] > 0.5 else "black")
    col_names = class_names if cm.shape[1] == len(class_names) else range(cm.shape[1])
    if row_names is None:
        row_names = class_names if cm.shape[0] == len(class_names) else [f"cluster {i}" for i in range(cm.shape[0])]
    ax.set_xticks(range(cm.shape[1]), [str(c) for c in col_names], rotation=45, ha="right")
    ax.set_yticks(range(cm.shape[0]), [str(c) for c in row_names])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    return _save(fig, path)
