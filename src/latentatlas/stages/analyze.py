"""`analyze_run`: project, probe and cluster a run's latent codes; write metrics and figures.

Reads `latents.npz` (encoding first if it is missing), writes the metrics.json
sections "projections", "probes" and "clustering" (each with its "figures"
list) and PNG / HTML figures in figures/. Every step is timed: printed as it
ends, stored in each section's "timings", and recorded with
`RunDir.record_timing("analyze.<step>", s)`.

Colour and factors: the raw-pixel baseline flattens every channel (C*H*W values per image,
3,072 for 32x32 RGB) of a seeded subsample (raw_max_samples); hover images keep their colour.
When the dataset knows per-image factors of variation (mnist-color's "hue"), the probes
section gains "factors": the best class probe's accuracy and, per factor, the R^2 of
regressors from the codes (estimators/factors.py); every 2-D projection gets a second PNG
coloured by the factor, and the 3-D figures a class / factor switch.

Sharing work: t-SNE, UMAP and N2D all start from a k-nearest-neighbour graph
of the same codes; it is built once (`estimators.neighbors.knn_graph`) and handed to each.
Subsets are seeded prefixes of ONE permutation of the points, so the
evaluation subset lies inside every fitted subset and the raw-pixel "before"
and latent "after" are scored on the very same points.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..rundir import LATENTS, RunDir


class _Steps:
    """Times each step, prints it, and keeps the figures list of a section."""

    def __init__(self, rd: RunDir, section: str, verbose: bool = True, record: bool = True):
        self.rd, self.section, self.verbose, self.record = rd, section, verbose, record
        self.timings: dict[str, float] = {}
        self.figures: list[dict] = []

    def run(self, step: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        s = time.perf_counter() - t0
        self.timings[step] = round(s, 3)
        if self.record:                # a lane's process hands its timings back instead
            self.rd.record_timing(f"analyze.{self.section}.{step}", s)
        if self.verbose:
            print(f"  {self.section:<12s} {step:<28s} {s:8.1f} s", flush=True)
        return out

    def figure(self, path, title: str, kind: str, caption: str, section: str | None = None) -> None:
        """List a figure; `section` is its report section (default: the one named like this stage's)."""
        self.figures.append({"path": str(path.relative_to(self.rd.path)), "title": title, "kind": kind,
                             "section": section or self.section, "caption": caption})


def _validated(cfg):
    from ..settings import AnalysisConfig

    from ..runtime import resolve_jobs

    cfg = AnalysisConfig() if cfg is None else AnalysisConfig(**asdict(cfg))   # re-runs __post_init__ checks
    cfg.n_jobs = resolve_jobs(cfg.n_jobs)                       # None: every core this process may use
    return cfg


def _backend(cfg) -> str:
    """"cpu" or "torch": the analysis backend `cfg.backend` resolves to here (estimators/backends.py)."""
    from ..estimators.backends import resolve_backend

    return resolve_backend(cfg.backend)


def analyze_run(run_dir, cfg=None, verbose: bool = True, wait: bool = False) -> dict:
    """Run the analysis `cfg` (an AnalysisConfig; default: everything) on a run directory,
    holding its lock (wait=True waits for another writer to finish)."""
    cfg = _validated(cfg)
    rd = RunDir(run_dir)
    if not rd.path.is_dir():
        raise UserError(f"run directory {rd.path} does not exist")
    from ..runtime import thread_limits

    # Every pool (BLAS, numba for UMAP, torch) runs cfg.n_jobs threads, as the estimators do.
    with rd.lock(wait=wait, command="latentatlas analyze"), thread_limits(cfg.n_jobs):
        return _analyze_run(rd, cfg, verbose)


def _analyze_run(rd: RunDir, cfg, verbose: bool) -> dict:
    from .lanes import lane_plan, run_lanes

    ctx = _context(rd, cfg, verbose)
    specs = ctx["specs"]
    _forget_timings(rd, [name for name, on in (("projections", specs), ("probes", cfg.probes),
                                               ("clustering", cfg.clusterers)) if on])
    plan = lane_plan(ctx)
    if plan:                            # many cores: the sections side by side (stages/lanes.py)
        return run_lanes(ctx, plan)
    out = {"features": cfg.features}
    if specs:
        out["projections"] = _written(rd, "projections", _projections(ctx))
    if cfg.probes:
        out["probes"] = _written(rd, "probes", _probes(ctx))
    if cfg.clusterers:
        out["clustering"] = _written(rd, "clustering", _clustering(ctx))
    return out


def _written(rd: RunDir, section: str, result: dict) -> dict:
    """Each section lands in metrics.json as soon as it is done: a later failure keeps it."""
    rd.update_metrics(section, result)
    return result


def _context(rd: RunDir, cfg, verbose: bool, choice_jobs: int | None = None, lane: bool = False) -> dict:
    """Everything the sections share: the codes, labels, data, seeded fit subset, settings.

    choice_jobs: the job count that picks an algorithm where the job count does (UMAP's layout,
    t-SNE's gradient, the SVM's pairs), default cfg.n_jobs; a lane runs on a share of the cores
    but chooses as the whole --jobs does. lane=True: a lane's process, which prints no header and
    leaves metrics.json (timings included) to the process that started it."""
    from ..settings import parse_projection_spec
    from .encode import describe_features, features, load_latents
    from ..estimators.project import umap_layout

    specs = [parse_projection_spec(s) for s in cfg.projections]
    latents = load_latents(rd.path)
    # Check the feature choice before anything is written (an AE has no log-variances).
    X_train = features(latents, "train", cfg.features, seed=cfg.seed)
    X_test = features(latents, "test", cfg.features, seed=cfg.seed + 1)
    y_train, y_test = latents["train_labels"], latents["test_labels"]
    class_names = latents["class_names"]
    if len(np.unique(y_train)) < 2:
        raise UserError("the run's training split has fewer than 2 classes; nothing to separate")
    feat_words = describe_features(cfg.features, latents["kind"])
    if verbose and not lane:
        print(f"analyze {rd.path}: {feat_words} ({cfg.features}), {X_train.shape[1]}-d, "
              f"{len(X_train)} train + {len(X_test)} test codes", flush=True)

    X_all = np.concatenate([X_train, X_test])                   # (N, d): train rows then test rows
    y_all = np.concatenate([y_train, y_test])
    is_train = np.arange(len(X_all)) < len(X_train)
    images, factors, data_note = _data(rd, cfg, len(y_train), len(y_test))
    choice_jobs = choice_jobs or cfg.n_jobs
    # Projections fit on a seeded permutation (prefix) of the points; clustering "all" reuses the same
    # permuted array when it is complete, so the kNN graph built for t-SNE/UMAP serves N2D too.
    fit_idx = _subset(len(X_all), cfg.projection_max_samples, cfg.seed)
    return dict(rd=rd, cfg=cfg, specs=specs, backend=_backend(cfg), choice_jobs=choice_jobs,
                umap_layout=umap_layout(cfg.umap_layout, choice_jobs), record=not lane,
                X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, n_clusters=cfg.n_clusters or
                len(class_names), X_all=X_all, y_all=y_all, is_train=is_train, class_names=class_names,
                feat_words=feat_words, images=images, factors=factors, data_note=data_note, graph={},
                verbose=verbose, fit_idx=fit_idx, X_fit=X_all[fit_idx])


def _forget_timings(rd: RunDir, sections: list[str]) -> None:
    """Drop the step timings of an earlier analysis of these sections (steps may differ now)."""
    rd.forget_timings([f"analyze.{s}." for s in sections])


def _data(rd: RunDir, cfg, n_train: int, n_test: int):
    """(images, factors, note) of the run's data, train rows then test rows, as far as asked for:
    images uint8 (N, C, H, W) for the raw baseline and the hover images (None when neither is on
    or the config has no data section); factors {name: (N,) floats} for the factor probes and
    the colourings (empty for a dataset without any). The figures need the data, so failing to
    load it is an error then; the probes alone only skip their factors (note says why)."""
    need_images = cfg.raw_baseline or cfg.interactive
    if not (need_images or cfg.probes) or not rd.config_section("data"):
        return None, {}, None
    try:
        data = _load_data(rd, n_train, n_test)
    except UserError as exc:
        if need_images:
            raise
        return None, {}, f"the run's data did not load, so no factor of variation was probed: {exc}"
    factors = {k: np.concatenate([np.asarray(v, np.float64), np.asarray(data.factors_test[k], np.float64)])
               for k, v in data.factors_train.items() if k in data.factors_test}
    return (np.concatenate([data.x_train, data.x_test]) if need_images else None), factors, None


def _load_data(rd: RunDir, n_train: int, n_test: int):
    """The run's ImageDataset, checked against its latents.npz."""
    from ..data import load_dataset

    data = load_dataset(**rd.config_section("data"))
    if len(data.x_train) != n_train or len(data.x_test) != n_test:
        raise UserError(f"{rd / LATENTS} does not match the run's data ({n_train}+{n_test} codes, "
                        f"{len(data.x_train)}+{len(data.x_test)} images); re-run `latentatlas encode {rd.path}`")
    return data


def _shared_graph(ctx, X, n_neighbors: int):
    """One kNN graph per point set, big enough for every method that asked (built on first use)."""
    from ..estimators.neighbors import knn_graph

    key = (id(X), len(X))
    have = ctx["graph"].get(key)
    if have is None or have[0].shape[1] < n_neighbors:
        need = max(n_neighbors, ctx.get("graph_k", n_neighbors))
        have = ctx["steps"].run(f"knn graph (k={need}, {len(X)} points)", knn_graph, X, need,
                                random_state=ctx["cfg"].seed, n_jobs=ctx["cfg"].n_jobs, backend=ctx["backend"],
                                exact_max_samples=ctx["cfg"].knn_exact_max_samples)
        ctx["graph"][key] = have
    return have


def _subset(n: int, size: int | None, seed: int) -> np.ndarray:
    """Seeded prefix of one fixed permutation: smaller subsets lie inside larger ones."""
    perm = np.random.default_rng(seed).permutation(n)
    return perm[: min(n, size)] if size else perm


def _n_eval(ctx) -> int:
    """Points every projection is scored on, latent and raw alike (a prefix of the fit subset)."""
    cfg, N = ctx["cfg"], len(ctx["X_all"])
    return min(len(ctx["fit_idx"]), cfg.quality_max_samples, cfg.raw_max_samples if cfg.raw_baseline else N)


def _projections(ctx, raw: bool = True) -> dict:
    """The projections section; raw=False leaves the raw-pixel baseline to a lane (`_raw_part`)."""
    rd, cfg, specs = ctx["rd"], ctx["cfg"], ctx["specs"]
    N, d = ctx["X_all"].shape
    steps = ctx["steps"] = _Steps(rd, "projections", ctx["verbose"], ctx["record"])
    fit_idx = ctx["fit_idx"]
    n_eval = _n_eval(ctx)
    ctx["graph_k"] = _graph_neighbours(ctx, specs)
    result = {"features": cfg.features, "features_described": ctx["feat_words"], "latent_dim": d,
              "n_points": N, "fit_points": int(len(fit_idx)), "eval_points": int(n_eval), "notes": [],
              "quality_measures": "latent/raw: kNN accuracy (5-NN fitted on train rows, scored on test rows), "
                                  "silhouette of the classes, trustworthiness (5 neighbours), on the same "
                                  "seeded points"}
    done_dims = set()
    for method, dims in specs:
        est, entry, pts = _fit_projection(ctx, steps, method, dims, n_eval)
        result[f"{method}_{dims}d"] = entry
        got = entry["dims"]
        if got == 2:  # kept for `latentatlas explore`, which maps these rows of latents.npz
            _add_map(ctx, method, est.embedding_, ctx["fit_idx"][: entry["points"]])
        if (method, got) in done_dims:
            entry["notes"].append(f"same as {method}_{got}d (fallback); no second figure")
        else:
            _projection_figure(ctx, steps, method, dims, est, entry, pts)
        done_dims.add((method, got))
        if method == "pca" and "pca_spectrum" not in result:
            result["pca_spectrum"] = _spectrum(steps, est, rd, "projections_pca_spectrum.png",
                                               f"PCA eigenvalue spectrum of {ctx['feat_words']}")
    if ctx["graph"]:
        from ..estimators.neighbors import graph_label

        result["knn_graph_backend"] = graph_label(ctx["backend"], d, len(ctx["fit_idx"]), cfg.knn_exact_max_samples)
    if cfg.raw_baseline and ctx["images"] is not None:
        if raw:
            result["raw_baseline"] = _raw_baseline(ctx, specs, n_eval, result)
    elif cfg.raw_baseline:
        result["notes"].append("raw-pixel baseline skipped: the run's config.json has no data section")
    result["timings"] = steps.timings
    result["figures"] = steps.figures
    return result


def _add_map(ctx, method: str, xy, rows) -> None:
    """A 2-D view for the explorer: into maps.npz, or handed back by a lane's process."""
    if ctx["record"]:
        ctx["rd"].add_map(method, xy, rows)
    else:
        ctx.setdefault("maps", []).append({"view": method, "xy": np.asarray(xy)[:, :2].tolist(),
                                           "rows": np.asarray(rows).tolist()})


def merge_projections(result: dict, part: dict, specs) -> dict:
    """The projections section as one process would have written it, from this process's part
    and a lane's (t-SNE): its entries, notes and steps added, the figures in the order of the
    methods in `specs` (the latent ones, then the raw pixels')."""
    for key, value in part.items():
        if key not in ("notes", "timings", "figures"):
            result.setdefault(key, value)
    result["notes"].extend(part["notes"])
    result["timings"].update(part["timings"])
    rank = {}
    for method, _ in specs:
        rank.setdefault(method, len(rank))

    def order(fig):
        name = Path(fig["path"]).name.removeprefix("projections_")
        raw = name.startswith("raw_")
        return raw, rank.get(name.removeprefix("raw_").split("_")[0], len(rank))

    result["figures"] = sorted(result["figures"] + part["figures"], key=order)
    for key in ("timings", "figures"):        # last, as one process writes them
        result[key] = result.pop(key)
    return result


def _raw_part(ctx) -> dict:
    """The raw-pixel baseline on its own (a lane): its section, what it adds to the latent
    projections' entries, and its steps' timings and figures, for `merge_raw`."""
    steps = ctx["steps"] = _Steps(ctx["rd"], "projections", ctx["verbose"], ctx["record"])
    entries: dict = {}
    raw = _raw_baseline(ctx, ctx["specs"], _n_eval(ctx), entries)
    return {"raw_baseline": raw, "entries": entries, "timings": steps.timings, "figures": steps.figures}


def merge_raw(result: dict, part: dict) -> dict:
    """The projections section as one process would have written it, from its latent part and
    the raw part (`_raw_part`): raw scores into each method's entry, then the raw steps."""
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


def _graph_neighbours(ctx, specs) -> int:
    """Neighbours of the one kNN graph of every fitted code that UMAP (15), N2D (n2d_neighbors)
    and a full-size 2-D t-SNE (3 * perplexity + 1 = 91) share; t-SNE on a subsample builds its own."""
    cfg, n_fit, N = ctx["cfg"], len(ctx["fit_idx"]), len(ctx["X_all"])
    k = 15
    if any(m == "tsne" and dims == 2 for m, dims in specs) and not (
            cfg.tsne_max_samples and n_fit > cfg.tsne_max_samples):
        k = 91
    if "n2d" in cfg.clusterers and cfg.cluster_split == "all" and n_fit == N:
        k = max(k, cfg.n2d_neighbors)
    return k


def _fit_projection(ctx, steps, method: str, dims: int, n_eval: int):
    """Fit one projection on the seeded points and score it: (estimator, metrics entry, (y, note))."""
    from ..estimators.backends import backend_label
    from ..estimators.project import make_projection, projection_quality

    cfg, N = ctx["cfg"], len(ctx["X_all"])
    fit_idx, X_fit = ctx["fit_idx"], ctx["X_fit"]
    X, y, tr = X_fit, ctx["y_all"][fit_idx], ctx["is_train"][fit_idx]
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
        knn = _shared_graph(ctx, X_fit, ctx["graph_k"] if method == "umap" else 91)
    est = make_projection(method, dims, random_state=cfg.seed, n_jobs=cfg.n_jobs, knn=knn, backend=ctx["backend"],
                          umap_layout=ctx["umap_layout"], choice_jobs=ctx["choice_jobs"])
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
    from ..figures import interactive, latent as latent_figures
    from ..registry import PROJECTIONS

    rd, cfg, names = ctx["rd"], ctx["cfg"], ctx["class_names"]
    y, note = pts
    key, got, shown = f"{method}_{dims}d", entry["dims"], PROJECTIONS.title(method)   # "t-SNE" for "tsne"
    title = f"{shown} {dims}-D of {ctx['feat_words']}"
    if got == 3:
        if not cfg.interactive:
            return
        fig = interactive.scatter_3d_figure(
            est.embedding_, y, names, title, note=note,
            images=ctx["images"], image_rows=ctx["fit_idx"][: len(y)], hover_images=cfg.hover_images, seed=cfg.seed,
            factors={k: v[ctx["fit_idx"][: len(y)]] for k, v in ctx["factors"].items()})
        path = rd.figures / f"projections_{method}_3d.html"
        steps.run(f"{key} figure", interactive.write_html, fig, path)
        switch = (" The buttons in its lower left corner colour the points by class or by "
                  f"{', '.join(ctx['factors'])}." if ctx["factors"] else "")
        steps.figure(path, title, "html", f"Interactive 3-D {shown} ({note}). "
                     "Drag to turn; hover a point for its class and, for a sample, its image." + switch)
        return
    emb = est.embedding_
    if got == 1:  # a 1-D projection: spread the points vertically by class to see them
        emb = np.column_stack([emb[:, 0], y + np.random.default_rng(0).uniform(-0.3, 0.3, len(y))])
    path = rd.figures / f"projections_{method}_{got}d.png"
    t = title if got == dims else f"{shown} {got}-D (asked {dims}-D) of {ctx['feat_words']}"
    steps.run(f"{key} figure", latent_figures.scatter_2d, emb, y, names, path, t,
              axis_names=(f"{shown} 1", f"{shown} 2" if got > 1 else "class (jittered)"), note=note)
    q = entry["latent"]
    steps.figure(path, t, "png", f"{shown} of {ctx['feat_words']}, coloured by class ({note}). "
                 f"kNN accuracy {q['knn_accuracy']:.3f}, silhouette {q['silhouette']:.3f}, "
                 f"trustworthiness {q['trustworthiness']:.3f} on {q['n_points']:,} points.")
    for name, values in ctx["factors"].items():
        _factor_figure(ctx, steps, method, got, emb, values[ctx["fit_idx"][: len(y)]], name, t, note)


def _factor_figure(ctx, steps, method: str, got: int, emb, values, name: str, title: str, note: str) -> None:
    """The same 2-D projection coloured by a factor of variation (mnist-color: the hue): does the
    map sort the images by class, by the factor, or by both?"""
    from ..figures import latent as latent_figures
    from ..registry import PROJECTIONS
    from ..estimators.factors import CIRCULAR

    shown = PROJECTIONS.title(method)
    path = ctx["rd"].figures / f"projections_{method}_{got}d_{name}.png"
    t = f"{title}, coloured by {name}"
    steps.run(f"{method}_{got}d {name} figure", latent_figures.scatter_2d_values, emb, values, path, t, name,
              axis_names=(f"{shown} 1", f"{shown} 2" if got > 1 else "class (jittered)"), note=note,
              cyclic=name in CIRCULAR)
    steps.figure(path, t, "png", f"{shown} of {ctx['feat_words']}, the same points coloured by their {name} "
                 f"({'a circular factor: the colour map wraps around' if name in CIRCULAR else 'a factor'}) "
                 "instead of their class: where the colours sort into bands, the map orders the codes by "
                 f"{name}; where they mix inside each class cluster, the class dominates.")


def _spectrum(steps, pca, rd, name, title) -> dict:
    from ..figures import latent as latent_figures

    path = rd.figures / name
    cf = pca.components_for_
    steps.run(f"{name.split('.')[0]} figure", latent_figures.spectrum, pca.explained_variance_ratio_, path, title,
              components_for=cf)
    steps.figure(path, title, "png", "Explained variance per principal component and cumulated; "
                 + ", ".join(f"{k} of the variance needs {v} components" for k, v in cf.items()) + ".",
                 section="pca")
    return {**{f"n_components_{k.rstrip('%')}": v for k, v in cf.items()},
            "explained_variance": pca.explained_variance_.tolist(),
            "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
            "cumulative": pca.cumulative_ratio_.tolist(), "components_for": cf}


# Above this many values per image, raw-pixel LDA takes the first RAW_WIDE_PCS principal
# components (grey 28x28, 784 values, is below it and unchanged).
RAW_WIDE, RAW_WIDE_PCS = 1024, 256


def _raw_baseline(ctx, specs, n_eval, latent_result) -> dict:
    """The same 2-D projections of raw pixels: the "before", scored on the same points."""
    from ..figures import latent as latent_figures
    from ..registry import PROJECTIONS
    from ..estimators.project import make_projection, projection_quality

    rd, cfg, steps = ctx["rd"], ctx["cfg"], ctx["steps"]
    N = len(ctx["y_all"])
    idx = _subset(N, cfg.raw_max_samples, cfg.seed)             # its first n_eval are the eval points
    X = ctx["images"][idx].reshape(len(idx), -1).astype(np.float32) / 255.0   # (n, C*H*W) in [0, 1]
    y, tr = ctx["y_all"][idx], ctx["is_train"][idx]
    note = (f"raw pixels ({X.shape[1]}-d), seeded subsample of {len(idx):,} of {N:,} points"
            if len(idx) < N else f"raw pixels ({X.shape[1]}-d), all {N:,} points")
    out = {"n_points": int(len(idx)), "subsampled": bool(len(idx) < N), "note": note, "methods": []}
    for method, dims in specs:
        if dims != 2 or f"{method}_2d" in out["methods"]:
            continue
        key = f"{method}_2d"
        X_in, knn = X, None
        if method == "lda" and X.shape[1] > RAW_WIDE:
            # Wide pixels (32x32 RGB: 3,072 values): LDA's SVD costs minutes at this size. It goes
            # through the first RAW_WIDE_PCS principal components, the Fisherfaces recipe
            # (Belhumeur, Hespanha & Kriegman 1997) for more pixels than one can afford to whiten.
            # (PCA keeps every pixel: its spectrum must be the pixels' own; see PCAProjection.)
            if "pca_wide" not in out:
                out["pca_wide"] = steps.run(f"raw pca-{RAW_WIDE_PCS} for LDA", _pca_k, X, RAW_WIDE_PCS,
                                            cfg.seed)
            X_in = out["pca_wide"]
        if method in ("tsne", "umap"):
            if X.shape[1] > 50:
                # The usual recipe for t-SNE/UMAP of pixels (van der Maaten & Hinton 2008): first 50
                # principal components, which keep the neighbourhoods and make the kNN search cheap.
                if "pca50" not in out:
                    out["pca50"] = steps.run("raw pca-50 for t-SNE/UMAP", _pca50, X, cfg.seed)
                X_in = out["pca50"]
            if "graph" not in out:  # one exact graph for both (no pynndescent compile for 5,000 points)
                from ..estimators.neighbors import knn_graph

                out["graph"] = steps.run(f"raw knn graph (k=91, {len(X_in)} points)", knn_graph, X_in, 91,
                                         random_state=cfg.seed, n_jobs=cfg.n_jobs)
            knn = out["graph"]
        est = make_projection(method, 2, random_state=cfg.seed, n_jobs=cfg.n_jobs, knn=knn,
                              umap_layout=ctx["umap_layout"], choice_jobs=ctx["choice_jobs"])
        est = steps.run(f"raw {key} fit", est.fit, X_in, y)
        q = steps.run(f"raw {key} quality", projection_quality, X[:n_eval], est.embedding_[:n_eval], y[:n_eval],
                      tr[:n_eval], max_samples=n_eval, random_state=cfg.seed, n_jobs=cfg.n_jobs)
        out["methods"].append(key)
        entry = latent_result.setdefault(key, {"method": method, "requested_dims": 2})
        entry["raw"] = q
        if X_in is not X:
            entry["raw_input"] = (f"first {X_in.shape[1]} principal components of the pixels "
                                  "(scored against all pixels)")
        entry["raw_seconds"] = steps.timings[f"raw {key} fit"]
        if getattr(est, "notes_", None):
            entry["raw_notes"] = list(est.notes_)
        shown = PROJECTIONS.title(method)
        title = f"{shown} 2-D of raw pixels (before)"
        if X_in is not X:
            title += f", via {X_in.shape[1]} principal components"
        path = rd.figures / f"projections_raw_{method}_2d.png"
        emb = est.embedding_
        if emb.shape[1] == 1:
            emb = np.column_stack([emb[:, 0], y + np.random.default_rng(0).uniform(-0.3, 0.3, len(y))])
        steps.run(f"raw {key} figure", latent_figures.scatter_2d, emb, y, ctx["class_names"], path, title,
                  axis_names=(f"{shown} 1", f"{shown} 2"), note=note)
        steps.figure(path, title, "png", f"{shown} of the raw pixels ({note}): the 'before' to the latent "
                     f"'after'. kNN accuracy {q['knn_accuracy']:.3f}, silhouette {q['silhouette']:.3f}, "
                     f"trustworthiness {q['trustworthiness']:.3f} on {q['n_points']:,} points.")
        if method == "pca":
            latent_result["raw_pca_spectrum"] = _spectrum(steps, est, rd, "projections_raw_pca_spectrum.png",
                                            "PCA eigenvalue spectrum of raw pixels")
    for scratch in ("pca50", "pca_wide", "graph"):   # inputs shared by the steps above, not results
        out.pop(scratch, None)
    return out


def _pca50(X, seed):
    from sklearn.decomposition import PCA

    return PCA(50, random_state=seed).fit_transform(X).astype(np.float32)   # (n, 50)


def _pca_k(X, k: int, seed):
    """The first k principal components (randomized SVD: k is far below the width)."""
    from sklearn.decomposition import PCA

    k = min(k, *X.shape)
    return PCA(k, svd_solver="randomized", random_state=seed).fit_transform(X).astype(np.float32)


def _probes(ctx) -> dict:
    from ..figures import latent as latent_figures
    from ..registry import PROBES
    from ..estimators.backends import backend_label
    from ..estimators.probe import evaluate_probe, make_probe

    rd, cfg, names = ctx["rd"], ctx["cfg"], ctx["class_names"]
    X_train, y_train, X_test, y_test = ctx["X_train"], ctx["y_train"], ctx["X_test"], ctx["y_test"]
    steps = _Steps(rd, "probes", ctx["verbose"], ctx["record"])
    result = {"features": cfg.features, "features_described": ctx["feat_words"], "dims": int(X_train.shape[1]),
              "n_train": int(len(X_train)), "n_test": int(len(X_test)), "average": "macro",
              "protocol": "trained on training-split codes, scored on test-split codes; "
                          "StandardScaler inside the pipeline"}
    for name in cfg.probes:
        shown = PROBES.title(name)                               # "SVM (RBF kernel)" for "svm"
        probe = make_probe(name, svm_solver=cfg.svm_solver, exact_max_samples=cfg.svm_exact_max_samples,
                           knn_exact_max_samples=cfg.knn_exact_max_samples, random_state=cfg.seed,
                           n_jobs=cfg.n_jobs, choice_jobs=ctx["choice_jobs"], backend=ctx["backend"])
        probe = steps.run(f"{name} fit", probe.fit, X_train, y_train)
        scores = steps.run(f"{name} score", evaluate_probe, probe, X_test, y_test, names)
        scores["solver"] = probe.solver_
        scores["backend"] = backend_label(probe)
        scores["fit_seconds"] = steps.timings[f"{name} fit"]
        result[name] = scores
        path = rd.figures / f"probes_{name}_confusion.png"
        title = f"{shown} on {ctx['feat_words']}: accuracy {scores['accuracy']:.4f}"
        steps.run(f"{name} figure", latent_figures.confusion_matrix, scores["confusion_matrix"], names, path, title)
        steps.figure(path, title, "png",
                     f"Confusion matrix of the {shown} probe ({probe.solver_}) on {len(X_test):,} test codes: "
                     f"accuracy {scores['accuracy']:.4f}, macro precision {scores['precision']:.4f}, "
                     f"recall {scores['recall']:.4f}, F1 {scores['f1']:.4f}.")
    if ctx["factors"] or ctx["data_note"]:
        result["factors"] = _factor_probes(ctx, steps, result, X_train, X_test)
    result["timings"] = steps.timings
    result["figures"] = steps.figures
    return result


def _factor_probes(ctx, steps, probes: dict, X_train, X_test) -> dict:
    """How much of the class and of each known factor (mnist-color's hue) the codes carry:
    the best class probe's accuracy, and per factor the R^2 of regressors trained on the
    training codes and scored on the test codes (estimators/factors.py)."""
    from ..estimators.factors import class_entry, probe_factor

    out = {}
    if ctx["data_note"]:
        out["note"] = ctx["data_note"]
    best = class_entry(probes)
    if best:
        out["class"] = best
    n = len(X_train)
    for name, values in ctx["factors"].items():
        out[name] = steps.run(f"factor {name} probes", probe_factor, name, X_train, values[:n], X_test, values[n:],
                              n_jobs=ctx["cfg"].n_jobs)
    return out


def _clustering(ctx) -> dict:
    from ..estimators.backends import backend_label
    from ..estimators.neighbors import graph_label
    from ..estimators.cluster import make_clusterer, score_clustering

    rd, cfg, names, n_clusters = ctx["rd"], ctx["cfg"], ctx["class_names"], ctx["n_clusters"]
    steps = ctx["steps"] = _Steps(rd, "clustering", ctx["verbose"], ctx["record"])
    X, y = _cluster_points(ctx)
    result = {"features": cfg.features, "features_described": ctx["feat_words"], "split": cfg.cluster_split,
              "n_points": int(len(X)), "n_clusters": n_clusters, "n_classes": len(names),
              "labels_used": "only to score (Hungarian-matched accuracy, NMI, ARI)"}
    for name in cfg.clusterers:
        knn = _n2d_graph(ctx, X) if name == "n2d" else None
        est = make_clusterer(name, n_clusters, random_state=cfg.seed, covariance_type=cfg.covariance_type,
                             n_init=cfg.n_init, n_neighbors=cfg.n2d_neighbors, n_jobs=cfg.n_jobs, knn=knn,
                             backend=ctx["backend"], layout=ctx["umap_layout"])
        est = steps.run(f"{name} fit", est.fit, X)
        scores = score_clustering(y, est.labels_, names)
        scores["backend"] = backend_label(est)
        notes = list(getattr(getattr(est, "umap_", None), "notes_", []))     # N2D's UMAP layout
        if notes:
            scores["notes"] = notes
        if knn is not None:             # N2D's UMAP graph: exact or, above knn_exact_max_samples, approximate
            scores["knn_graph_backend"] = graph_label(ctx["backend"], X.shape[1], len(X), cfg.knn_exact_max_samples)
        scores["seconds"] = steps.timings[f"{name} fit"]
        if name in ("gmm", "n2d"):
            scores["covariance_type"] = cfg.covariance_type
            scores["n_init"] = cfg.n_init
        result[name] = scores
        _cluster_table_figure(ctx, steps, name, scores, len(X))
        if name == "gmm":
            _gmm_ellipses(ctx, steps, est.gmm_, X, y, n_clusters)
    result["timings"] = steps.timings
    result["figures"] = steps.figures
    return result


def _cluster_points(ctx):
    """(codes, labels) clustered: the split asked for; "all" reuses the permuted fitted codes
    when they are complete, so N2D shares the projections' kNN graph."""
    split = ctx["cfg"].cluster_split
    mask = {"all": np.ones(len(ctx["y_all"]), bool), "train": ctx["is_train"], "test": ~ctx["is_train"]}[split]
    if split == "all" and len(ctx["fit_idx"]) == len(mask):
        return ctx["X_fit"], ctx["y_all"][ctx["fit_idx"]]
    return ctx["X_all"][mask], ctx["y_all"][mask]


def _n2d_graph(ctx, X):
    """The kNN graph N2D's UMAP needs: the shared one when it is wide enough, else built now."""
    k = ctx["cfg"].n2d_neighbors
    knn = ctx["graph"].get((id(X), len(X)))
    if knn is None or knn[0].shape[1] < k:
        ctx["graph_k"] = k
        knn = _shared_graph(ctx, X, k)
    return knn


def _cluster_table_figure(ctx, steps, name: str, scores: dict, n_points: int) -> None:
    """The cluster-to-label table, clusters in the order of their matched class (good = diagonal)."""
    from ..figures import latent as latent_figures
    from ..registry import CLUSTERERS

    names, shown = ctx["class_names"], CLUSTERERS.title(name)
    table = np.asarray(scores["table"]["counts"])                  # (clusters, classes)
    rows, to_label = scores["table"]["rows"], scores["cluster_to_label"]
    matched = [names.index(to_label[r.split()[-1]]) if to_label.get(r.split()[-1]) in names else len(names)
               for r in rows]
    order = np.argsort(matched, kind="stable")
    table, rows = table[order], [f"{rows[i]} ({to_label.get(rows[i].split()[-1]) or '-'})" for i in order]
    path = ctx["rd"].figures / f"clustering_{name}_table.png"
    title = f"{shown}: cluster accuracy {scores['accuracy']:.4f}, NMI {scores['nmi']:.4f}, ARI {scores['ari']:.4f}"
    steps.run(f"{name} table figure", latent_figures.confusion_matrix, table, names, path, title,
              xlabel="true class", ylabel="cluster (matched class)", row_names=rows)
    steps.figure(path, title, "png", f"Cluster-to-label table of {shown} on {n_points:,} codes "
                 f"({ctx['cfg'].cluster_split} split, {ctx['feat_words']}); no labels used to fit.")


def _gmm_ellipses(ctx, steps, gmm, X, y, n_clusters: int) -> None:
    """Study 003: the mixture's Gaussians as ellipses over the 2-D codes; for a wider latent,
    the same Gaussians pushed through the (linear) PCA map onto its plane."""
    from ..figures import latent as latent_figures
    from ..estimators.project import PCAProjection
    from ..estimators.sample import full_covariances

    cfg, covs = ctx["cfg"], full_covariances(gmm)
    if X.shape[1] == 2:
        emb, ell, axes, where = X, list(zip(gmm.means_, covs)), ("latent 1", "latent 2"), "2-D latent"
    else:
        plane = steps.run("pca plane", PCAProjection(2, random_state=cfg.seed).fit, X)
        emb = plane.embedding_
        ell = [plane.project_gaussian(m, c) for m, c in zip(gmm.means_, covs)]
        axes, where = ("PCA 1", "PCA 2"), "PCA plane of the codes"
    path = ctx["rd"].figures / "clustering_gmm_ellipses.png"
    t = f"Gaussian mixture ({n_clusters} components, {cfg.covariance_type}) on the {where}"
    steps.run("gmm ellipses figure", latent_figures.scatter_2d, emb, y, ctx["class_names"], path, t,
              axis_names=axes, note=f"{len(X):,} codes coloured by true class; ellipses at 1 and 2 s.d.",
              ellipses=ell)
    steps.figure(path, t, "png", "The fitted mixture's Gaussians (1 and 2 standard deviations) over the "
                 f"codes, coloured by their true class ({where}).")
