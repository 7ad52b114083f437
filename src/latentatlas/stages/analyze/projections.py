"""The projections section: each projection of the codes fitted, scored and drawn (and the
raw-pixel baseline, raw.py, scored on the same points); the 2-D maps kept for the explorer."""

from __future__ import annotations

import numpy as np

from .context import graph_neighbours, n_eval, shared_graph
from .raw import raw_baseline
from .spectrum import spectrum
from .steps import Steps


def projections_section(ctx, raw: bool = True) -> dict:
    """The projections section; raw=False leaves the raw-pixel baseline to a lane (`raw_section`)."""
    rd, cfg, specs = ctx.rd, ctx.cfg, ctx.specs
    N, d = ctx.X_all.shape
    steps = ctx.steps = Steps(rd, "projections", ctx.verbose, ctx.record)
    fit_idx = ctx.fit_idx
    n_ev = n_eval(ctx)
    ctx.graph_k = graph_neighbours(ctx, specs)
    result = {"features": cfg.features, "features_described": ctx.feat_words, "latent_dim": d,
              "n_points": N, "fit_points": int(len(fit_idx)), "eval_points": int(n_ev), "notes": [],
              "quality_measures": "latent/raw: kNN accuracy (5-NN fitted on train rows, scored on test rows), "
                                  "silhouette of the classes, trustworthiness (5 neighbours), on the same "
                                  "seeded points"}
    done_dims = set()
    for method, dims in specs:
        est, entry, pts = _fit_projection(ctx, steps, method, dims, n_ev)
        result[f"{method}_{dims}d"] = entry
        got = entry["dims"]
        if got == 2:  # kept for `latentatlas explore`, which maps these rows of latents.npz
            add_map(ctx, method, est.embedding_, ctx.fit_idx[: entry["points"]])
        if (method, got) in done_dims:
            entry["notes"].append(f"same as {method}_{got}d (fallback); no second figure")
        else:
            _projection_figure(ctx, steps, method, dims, est, entry, pts)
        done_dims.add((method, got))
        if method == "pca" and "pca_spectrum" not in result:
            result["pca_spectrum"] = spectrum(steps, est, rd, "projections_pca_spectrum.png",
                                              f"PCA eigenvalue spectrum of {ctx.feat_words}")
    if ctx.graph:
        from ...estimators.neighbors import graph_label

        result["knn_graph_backend"] = graph_label(ctx.backend, d, len(ctx.fit_idx), cfg.knn_exact_max_samples)
    if cfg.raw_baseline and ctx.images is not None:
        if raw:
            result["raw_baseline"] = raw_baseline(ctx, specs, n_ev, result)
    elif cfg.raw_baseline:
        result["notes"].append("raw-pixel baseline skipped: the run's config.json has no data section")
    result["timings"] = steps.timings
    result["figures"] = steps.figures
    return result


def add_map(ctx, method: str, xy, rows) -> None:
    """A 2-D view for the explorer: into maps.npz, or handed back by a lane's process."""
    if ctx.record:
        ctx.rd.add_map(method, xy, rows)
    else:
        ctx.maps.append({"view": method, "xy": np.asarray(xy)[:, :2].tolist(), "rows": np.asarray(rows).tolist()})


def merge_projections(result: dict, keys: list, part: dict, part_keys: list, specs) -> dict:
    """The projections section as one process would have written it, from this process's part
    and a lane's (t-SNE): its entries, notes and steps added, the figures in the order of the
    methods in `specs` (the latent ones, then the raw pixels'). `keys` and `part_keys` are the
    figures' rank keys (Steps.figure_keys), one per figure."""
    for key, value in part.items():
        if key not in ("notes", "timings", "figures"):
            result.setdefault(key, value)
    result["notes"].extend(part["notes"])
    result["timings"].update(part["timings"])
    rank: dict[str, int] = {}
    for method, _ in specs:
        rank.setdefault(method, len(rank))
    ranked = sorted(zip(result["figures"] + part["figures"], list(keys) + list(part_keys)),
                    key=lambda pair: (pair[1][0], rank.get(pair[1][1], len(rank))))   # stable: in drawing order
    result["figures"] = [fig for fig, _ in ranked]
    for key in ("timings", "figures"):        # last, as one process writes them
        result[key] = result.pop(key)
    return result


def raw_section(ctx) -> dict:
    """The raw-pixel baseline on its own (a lane): its section, what it adds to the latent
    projections' entries, and its steps' timings and figures, for `merge_raw`."""
    steps = ctx.steps = Steps(ctx.rd, "projections", ctx.verbose, ctx.record)
    entries: dict = {}
    raw = raw_baseline(ctx, ctx.specs, n_eval(ctx), entries)
    return {"raw_baseline": raw, "entries": entries, "timings": steps.timings, "figures": steps.figures}


def merge_raw(result: dict, part: dict) -> dict:
    """The projections section as one process would have written it, from its latent part and
    the raw part (`raw_section`): raw scores into each method's entry, then the raw steps."""
    for key, value in part["entries"].items():
        if isinstance(result.get(key), dict):
            for k, v in value.items():
                result[key].setdefault(k, v)
        else:
            result[key] = value
    result["raw_baseline"] = part["raw_baseline"]
    result["timings"].update(part["timings"])
    result["figures"].extend(part["figures"])
    for key in ("timings", "figures"):        # last, as one process writes them
        result[key] = result.pop(key)
    return result


def _fit_projection(ctx, steps, method: str, dims: int, n_eval: int):
    """Fit one projection on the seeded points and score it: (estimator, metrics entry, (y, note))."""
    from ...estimators.backends import backend_label
    from ...estimators.project import make_projection, projection_quality

    cfg, N = ctx.cfg, len(ctx.X_all)
    fit_idx, X_fit = ctx.fit_idx, ctx.X_fit
    X, y, tr = X_fit, ctx.y_all[fit_idx], ctx.is_train[fit_idx]
    sub_note = (f"seeded subsample of {len(fit_idx):,} of {N:,} points" if len(fit_idx) < N
                else f"all {N:,} points")
    key = f"{method}_{dims}d"
    limit = {2: cfg.tsne_max_samples, 3: cfg.tsne_3d_max_samples}.get(dims) if method == "tsne" else None
    if limit and len(X) > limit:
        X, y, tr = X[:limit], y[:limit], tr[:limit]     # a prefix of the permutation: seeded, and
        sub_note = (f"subsampled by default: {limit:,} of {N:,} points ("  # holds the eval points
                    + ("3-D t-SNE needs Barnes-Hut, O(N log N) per iteration" if dims == 3 else
                       "t-SNE's cost grows with every point; --tsne-max-samples 0 for all") + ")")
    knn = None
    if method in ("umap", "tsne") and X is X_fit:
        knn = shared_graph(ctx, X_fit, ctx.graph_k if method == "umap" else 91)
    est = make_projection(method, dims, random_state=cfg.seed, n_jobs=cfg.n_jobs, knn=knn, backend=ctx.backend,
                          umap_layout=ctx.umap_layout, choice_jobs=ctx.choice_jobs)
    est = steps.run(f"{key} fit", est.fit, X, y)
    entry = {"method": method, "requested_dims": dims, "dims": int(est.embedding_.shape[1]), "points": int(len(X)),
             "subsample": sub_note, "notes": list(getattr(est, "notes_", [])), "seconds": steps.timings[f"{key} fit"],
             "backend": backend_label(est)}
    if hasattr(est, "gradient_method_"):
        entry["gradient"] = est.gradient_method_
    m = min(n_eval, len(X))
    entry["latent"] = steps.run(f"{key} quality", projection_quality, X[:m], est.embedding_[:m], y[:m],
                                 tr[:m], max_samples=m, random_state=cfg.seed, n_jobs=cfg.n_jobs)
    return est, entry, (y, "; ".join([sub_note] + entry["notes"]))


def _projection_figure(ctx, steps, method: str, dims: int, est, entry: dict, pts) -> None:
    """The figure of one projection: interactive HTML in 3-D, a PNG scatter in 1-D or 2-D."""
    from ...figures import interactive, latent as latent_figures
    from ...registry import PROJECTIONS

    rd, cfg, names = ctx.rd, ctx.cfg, ctx.class_names
    y, note = pts
    key, got, shown = f"{method}_{dims}d", entry["dims"], PROJECTIONS.title(method)   # "t-SNE" for "tsne"
    title = f"{shown} {dims}-D of {ctx.feat_words}"
    if got == 3:
        if not cfg.interactive:
            return
        fig = interactive.scatter_3d_figure(
            est.embedding_, y, names, title, note=note,
            images=ctx.images, image_rows=ctx.fit_idx[: len(y)], hover_images=cfg.hover_images, seed=cfg.seed,
            factors={k: v[ctx.fit_idx[: len(y)]] for k, v in ctx.factors.items()})
        path = rd.figures / f"projections_{method}_3d.html"
        steps.run(f"{key} figure", interactive.write_html, fig, path)
        switch = (" The buttons in its lower left corner colour the points by class or by "
                  f"{', '.join(ctx.factors)}." if ctx.factors else "")
        steps.figure(path, title, "html", f"Interactive 3-D {shown} ({note}). "
                     "Drag to turn; hover a point for its class and, for a sample, its image." + switch,
                     method=method)
        return
    emb = est.embedding_
    if got == 1:  # a 1-D projection: spread the points vertically by class to see them
        emb = np.column_stack([emb[:, 0], y + np.random.default_rng(0).uniform(-0.3, 0.3, len(y))])
    path = rd.figures / f"projections_{method}_{got}d.png"
    t = title if got == dims else f"{shown} {got}-D (asked {dims}-D) of {ctx.feat_words}"
    steps.run(f"{key} figure", latent_figures.scatter_2d, emb, y, names, path, t,
              axis_names=(f"{shown} 1", f"{shown} 2" if got > 1 else "class (jittered)"), note=note)
    q = entry["latent"]
    steps.figure(path, t, "png", f"{shown} of {ctx.feat_words}, coloured by class ({note}). "
                 f"kNN accuracy {q['knn_accuracy']:.3f}, silhouette {q['silhouette']:.3f}, "
                 f"trustworthiness {q['trustworthiness']:.3f} on {q['n_points']:,} points.", method=method)
    for name, values in ctx.factors.items():
        _factor_figure(ctx, steps, method, got, emb, values[ctx.fit_idx[: len(y)]], name, t, note)


def _factor_figure(ctx, steps, method: str, got: int, emb, values, name: str, title: str, note: str) -> None:
    """The same 2-D projection coloured by a factor of variation (mnist-color: the hue): does the
    map sort the images by class, by the factor, or by both?"""
    from ...figures import latent as latent_figures
    from ...registry import PROJECTIONS
    from ...estimators.factors import CIRCULAR

    shown = PROJECTIONS.title(method)
    path = ctx.rd.figures / f"projections_{method}_{got}d_{name}.png"
    t = f"{title}, coloured by {name}"
    steps.run(f"{method}_{got}d {name} figure", latent_figures.scatter_2d_values, emb, values, path, t, name,
              axis_names=(f"{shown} 1", f"{shown} 2" if got > 1 else "class (jittered)"), note=note,
              cyclic=name in CIRCULAR)
    steps.figure(path, t, "png", f"{shown} of {ctx.feat_words}, the same points coloured by their {name} "
                 f"({'a circular factor: the colour map wraps around' if name in CIRCULAR else 'a factor'}) "
                 "instead of their class: where the colours sort into bands, the map orders the codes by "
                 f"{name}; where they mix inside each class cluster, the class dominates.", method=method)

