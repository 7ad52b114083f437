"""The interpolation stage: decoded class means, walks, the tour, traversals, the 2-d manifold.

    interpolation_section(ctx: RunContext, cfg: GenerateConfig) -> dict

writes metrics.json "interpolation" with its figures (filed under the report's
"walks" section). The paths themselves are pure geometry in `latent.interpolate`;
this module decodes them with the run's model and draws them with
`latentatlas.figures.images`.
"""

from __future__ import annotations

import time

import numpy as np

from ..data.subset import class_index, class_indices
from ..errors import UserError
from ..context import RunContext
from ..models.codec import decode_codes
from ..estimators.interpolate import class_means, convex_path, manifold_grid, tour, traversal

SECTION = "walks"     # the report section these figures go to


def _figure(section: dict, rel: str, title: str, kind: str, caption: str) -> None:
    section["figures"].append({"path": rel, "title": title, "kind": kind, "section": SECTION, "caption": caption})


def _closest_and_farthest(means: np.ndarray, valid: np.ndarray) -> list[tuple[int, int]]:
    """The two closest and the two farthest class means (Euclidean): the most confusable
    pair and the most different pair, the two walks most worth watching."""
    idx = np.flatnonzero(valid)
    if len(idx) < 2:
        return []
    m = means[idx]
    dist = np.linalg.norm(m[:, None] - m[None], axis=-1)           # (k, k)
    iu = np.triu_indices(len(idx), 1)
    order = np.argsort(dist[iu])
    near = (int(idx[iu[0][order[0]]]), int(idx[iu[1][order[0]]]))
    far = (int(idx[iu[0][order[-1]]]), int(idx[iu[1][order[-1]]]))
    return [near] if near == far else [near, far]


def _walk(ctx, section, a, b, steps, tag: str, label: str, caption: str, caption_short: str = "") -> dict:
    from ..figures.images import strip_png, walk_gif

    images = decode_codes(ctx.model, convex_path(a, b, steps))
    png, rel_png = ctx.figure("interpolation", f"walk_{tag}")
    gif, rel_gif = ctx.figure("interpolation", f"walk_{tag}", "gif")
    strip_png(png, images, title=f"{label}   (t = 0 ... 1)")
    walk_gif(gif, images, caption=caption_short)
    _figure(section, rel_png, f"Walk: {label}", "png", caption)
    _figure(section, rel_gif, f"Walk: {label} (animated)", "gif", caption)
    return {"label": label, "steps": int(steps), "png": rel_png, "gif": rel_gif,
            "distance": float(np.linalg.norm(np.asarray(b) - np.asarray(a)))}


def _check_endpoints(ctx: RunContext, walk_classes, walk_indices, steps: int) -> list[tuple[int, int]]:
    """Every endpoint checked before anything is written; the class pairs as indices."""
    names = ctx.class_names
    pairs = [(class_index(a, names, "this run"), class_index(b, names, "this run")) for a, b in (walk_classes or [])]
    n_test = len(ctx.latents["test_mean"])
    for i, j in walk_indices or []:
        for v in (i, j):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < n_test:
                raise UserError(f"test image index {v!r} is out of range; this run has test images "
                                f"0..{n_test - 1}")
    if steps < 2:
        raise UserError(f"--steps must be at least 2 (the two endpoints), got {steps}")
    return pairs


def interpolation_section(ctx: RunContext, cfg, walk_classes=None, walk_indices=None,
                          tour_on: bool | None = None, traverse_on: bool | None = None) -> dict:
    """Class means (decoded and as a heat-map), walks, the tour, traversals, the 2-d manifold."""
    t0 = time.perf_counter()
    names = ctx.class_names
    codes, labels = ctx.train_codes, ctx.train_labels
    steps = cfg.steps
    walk_indices = cfg.walk_indices if walk_indices is None else walk_indices
    pairs = _check_endpoints(ctx, cfg.walks if walk_classes is None else walk_classes, walk_indices, steps)
    selected = class_indices(cfg.classes, names)

    means = class_means(codes, labels, len(names))                  # (k, d), NaN where a class is empty
    valid = ~np.isnan(means).any(1)
    section = {"codes": f"training {ctx.code_words}", "latent_dim": codes.shape[1], "steps": steps, "walks": [],
               "figures": []}
    shown = [c for c in (selected or range(len(names))) if valid[c]]
    _means_figures(ctx, section, means, shown)

    # Walks between class means (default: the closest and the farthest pair) and between images.
    if not pairs and not walk_indices:
        pairs = _closest_and_farthest(means, valid)
    for a, b in pairs:
        if not (valid[a] and valid[b]):
            raise UserError(f"class {names[a] if not valid[a] else names[b]!r} has no training codes to walk from")
        label = f"mean of {names[a]} -> mean of {names[b]}"
        section["walks"].append(_walk(ctx, section, means[a], means[b], steps, f"class_{a}_to_{b}", label,
                                      f"Convex combinations (1 - t) m_a + t m_b of the two class means, "
                                      f"t from 0 to 1 in {steps} steps, decoded.",
                                      f"{names[a]} <-> {names[b]}"))
    test_codes = np.asarray(ctx.latents["test_mean"], dtype=np.float64)
    test_labels = np.asarray(ctx.latents["test_labels"])
    for i, j in walk_indices or []:
        label = f"test image {i} ({names[test_labels[i]]}) -> test image {j} ({names[test_labels[j]]})"
        section["walks"].append(_walk(ctx, section, test_codes[i], test_codes[j], steps, f"test_{i}_to_{j}", label,
                                      f"Convex combinations of the codes of two test images, {steps} steps.",
                                      f"#{i} <-> #{j}"))

    if (cfg.tour if tour_on is None else tour_on) and len(shown) >= 2:
        _tour(ctx, section, means, shown, steps)
    if cfg.traverse if traverse_on is None else traverse_on:
        _traversals(ctx, section, cfg.traverse_k)
    if codes.shape[1] == 2:
        _manifold(ctx, section, cfg.manifold_n)
    section["seconds"] = round(time.perf_counter() - t0, 3)
    ctx.run.update_metrics("interpolation", section)
    return section


def _means_figures(ctx: RunContext, section: dict, means: np.ndarray, shown: list[int]) -> None:
    """Decoded class means, and the means themselves (study 000: "look at the means")."""
    from ..figures.images import labelled_grid, means_heatmap

    names, codes = ctx.class_names, ctx.train_codes
    mean_images = decode_codes(ctx.model, means[shown])
    path, rel = ctx.figure("interpolation", "class_means")
    labelled_grid(path, mean_images[None], col_labels=[names[c] for c in shown], title="Decoded class means")
    _figure(section, rel, "Decoded class means", "png",
            f"The mean of each class's training {ctx.code_words}, decoded.")
    std = codes.std(0) + 1e-12
    path, rel = ctx.figure("interpolation", "means_heatmap")
    means_heatmap(path, (means[shown] - codes.mean(0)) / std, [names[c] for c in shown],
                  title="Class means per latent dimension (standardised: (mean - overall mean) / std)")
    _figure(section, rel, "Class means, dimension by dimension", "png",
            "Each cell: how far a class's mean sits from the overall mean along "
            "one latent dimension, in that dimension's standard deviations.")
    section["class_means"] = {names[c]: np.round(means[c], 5).tolist() for c in shown}


def _tour(ctx: RunContext, section: dict, means: np.ndarray, shown: list[int], steps: int) -> None:
    """Every (selected) class mean in turn, back to the first (study 004)."""
    from ..figures.images import tour_gif

    names = ctx.class_names
    images = decode_codes(ctx.model, tour(means[shown], steps))
    path, rel = ctx.figure("interpolation", "tour", "gif")
    tour_gif(path, images, stop_every=steps - 1, stops=[names[c] for c in shown])
    section["tour"] = {"classes": [names[c] for c in shown], "frames": int(len(images)), "gif": rel}
    _figure(section, rel, "A tour through every class mean", "gif",
            f"From one class mean to the next ({' -> '.join(names[c] for c in shown)}"
            f" -> {names[shown[0]]}), pausing at each mean.")


def _traversals(ctx: RunContext, section: dict, k: float) -> None:
    """Around the overall mean: one row per latent dimension (at most 32 shown)."""
    from ..figures.images import labelled_grid

    codes = ctx.train_codes
    d = codes.shape[1]
    dims = np.arange(min(d, 32))
    cols = 11
    std = codes.std(0) + 1e-12
    grid_codes = traversal(codes.mean(0), std, k=k, steps=cols, dims=dims)   # (D, cols, d)
    images = decode_codes(ctx.model, grid_codes.reshape(-1, d))
    images = images.reshape(len(dims), cols, *images.shape[1:])
    offsets = np.linspace(-k, k, cols)
    path, rel = ctx.figure("interpolation", "traversal")
    labelled_grid(path, images, row_labels=[f"z{j}" for j in dims],
                  col_labels=[f"{o:+.1f}" if o else "0" for o in offsets],
                  title=f"Traversals: one dimension at a time, {-k:+g} to {k:+g} std around the mean code")
    section["traversal"] = {"dims": dims.tolist(), "k_std": k, "png": rel}
    _figure(section, rel, "Latent traversals", "png",
            "Each row varies one latent dimension from -k to +k of its standard "
            "deviation, all others held at the mean code.")


def _manifold(ctx: RunContext, section: dict, n: int) -> None:
    """A 2-d latent can be shown whole: decode a grid over the occupied region."""
    from ..figures.images import manifold_figure

    grid, xs, ys = manifold_grid(ctx.train_codes, n=n)
    images = decode_codes(ctx.model, grid)
    images = images.reshape(n, n, *images.shape[1:])
    path, rel = ctx.figure("interpolation", "manifold")
    manifold_figure(path, images, xs, ys, title="Decoded 2-d latent space (1st-99th percentile of the codes)")
    section["manifold"] = {"n": n, "x_range": [float(xs[0]), float(xs[-1])],
                           "y_range": [float(ys[-1]), float(ys[0])], "png": rel}
    _figure(section, rel, "The decoded 2-d latent space", "png",
            "Each image is decoded from the latent point at its centre; the grid "
            "spans the 1st to 99th percentile of the training codes.")


__all__ = ["interpolation_section"]
