"""The sweep report's figures (matplotlib, PNG bytes): numbers in, pictures out.

    against_setting(setting, panels)          one panel per headline figure: mean over seeds, the spread
    rate_distortion(points, colour_by)        KL (rate) against reconstruction error, one point per trial
    active_dimensions(rows)                   active dimensions and the PCA 90/95 % dimension vs latent size
    map_multiples(maps, class_names)          every trial's 2-D map, one small panel each, coloured alike
"""

from __future__ import annotations

import math

import numpy as np

from .canvas import new_figure, png_bytes


def _colors(k: int):
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def _png(fig) -> bytes:
    return png_bytes(fig, dpi=100, bbox_inches="tight")


def _positions(xs: list):
    """Numbers on a log axis when they span more than 8x (latent sizes, betas), words as categories."""
    if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
        positive = [x for x in xs if x > 0]
        log = len(positive) == len(xs) and max(xs) / min(xs) > 8
        return [float(x) for x in xs], log, None
    cats = list(dict.fromkeys(map(str, xs)))
    return [float(cats.index(str(x))) for x in xs], False, cats


def against_setting(setting: str, panels: list) -> bytes:
    """panels: [(title, [(line_label, [(x, [value per seed]), ...]), ...])]. A line per value of the
    other swept settings: its mean over seeds, each seed a dot, the range between the lowest and the
    highest seed shaded."""
    n = len(panels)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig = new_figure(4.2 * cols, 3.1 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, (title, lines) in zip(axes, panels):
        colors = _colors(len(lines))
        for color, (label, points) in zip(colors, lines):
            xs, log, cats = _positions([x for x, _ in points])
            means = [float(np.mean(v)) for _, v in points]
            lows = [float(np.min(v)) for _, v in points]
            highs = [float(np.max(v)) for _, v in points]
            order = np.argsort(xs)
            xo = np.asarray(xs)[order]
            ax.plot(xo, np.asarray(means)[order], "-o", color=color, ms=4, lw=1.5, label=label or None)
            ax.fill_between(xo, np.asarray(lows)[order], np.asarray(highs)[order], color=color, alpha=0.15, lw=0)
            for x, (_, values) in zip(xs, points):
                ax.scatter([x] * len(values), values, color=color, s=9, alpha=0.6, lw=0)
            if log:
                ax.set_xscale("log")
            if cats:
                ax.set_xticks(range(len(cats)), cats)
            else:
                ax.set_xticks(sorted(set(xs)), [f"{x:g}" for x in sorted(set(xs))])
                ax.minorticks_off()
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(setting, fontsize=9)
        ax.grid(alpha=0.3)
        if any(label for label, _ in lines):
            ax.legend(fontsize=7, frameon=False)
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return _png(fig)


def rate_distortion(points: list, colour_by: str) -> bytes:
    """points: [(rate: KL nats, distortion: reconstruction per image, value of colour_by, name)]."""
    fig = new_figure(6.2, 4.6)
    ax = fig.subplots()
    values = list(dict.fromkeys(str(p[2]) for p in points))
    colors = dict(zip(values, _colors(len(values))))
    for value in values:
        mine = [p for p in points if str(p[2]) == value]
        ax.scatter([p[0] for p in mine], [p[1] for p in mine], color=colors[value], s=36, label=f"{colour_by}={value}",
                   edgecolors="black", linewidths=0.4)
    ax.set_xlabel("rate: KL(q(z|x) || p(z)) on the test images, nats per image")
    ax.set_ylabel("distortion: reconstruction term, per image")
    ax.set_title("Rate-distortion plane, one point per trial", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return _png(fig)


def active_dimensions(rows: list, threshold: float) -> bytes:
    """rows: [(latent size, active dims by KL, PCA 90 % dim, PCA 95 % dim, active units)], one per trial
    (None where a trial has no such figure: an autoencoder has no KL)."""
    fig = new_figure(6.2, 4.6)
    ax = fig.subplots()
    sizes = [r[0] for r in rows]
    series = [(1, f"active (KL per dimension > {threshold:g} nats)", "o"), (2, "PCA: 90 % of the variance", "s"),
              (3, "PCA: 95 % of the variance", "^"), (4, f"active units (Cov of the mean > {threshold:g})", "D")]
    for (i, label, marker), color in zip(series, _colors(4)):
        have = [(r[0], r[i]) for r in rows if r[i] is not None]
        if not have:
            continue
        jitter = {1: 0.96, 2: 0.99, 3: 1.02, 4: 1.05}[i]
        ax.scatter([s * jitter for s, _ in have], [v for _, v in have], marker=marker, color=color, s=32,
                   label=label, alpha=0.8)
    top = max(sizes) if sizes else 1
    ax.plot([1, top], [1, top], ":", color="grey", lw=1, label="all dimensions")
    if sizes and max(sizes) / max(min(sizes), 1) > 8:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xticks(sorted(set(sizes)), [str(s) for s in sorted(set(sizes))])
    ax.minorticks_off()
    ax.set_xlabel("latent size (model.latent_dim)")
    ax.set_ylabel("dimensions")
    ax.set_title("How many latent dimensions are used", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return _png(fig)


def map_multiples(maps: list, class_names: list, view: str) -> bytes:
    """maps: [(title, xy (M, 2), labels (M,))]; one panel per trial, classes in the same colours."""
    n = len(maps)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig = new_figure(2.6 * cols, 2.6 * rows + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    colors = np.asarray(_colors(max(len(class_names), 1)))
    for ax, (title, xy, labels) in zip(axes, maps):
        xy, labels = np.asarray(xy), np.asarray(labels, int)
        order = np.random.default_rng(0).permutation(len(xy))
        ax.scatter(xy[order, 0], xy[order, 1], c=colors[labels[order] % len(colors)], s=1.5, lw=0, alpha=0.7,
                   rasterized=True)
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    handles = [ax.scatter([], [], color=colors[i], s=16, label=str(c)) for i, c in enumerate(class_names)]
    fig.legend(handles=handles, loc="lower center", ncol=min(10, len(class_names)) or 1, fontsize=7, frameon=False,
               title=f"class ({view} of each trial's codes)", title_fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _png(fig)
