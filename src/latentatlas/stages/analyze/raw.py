"""The raw-pixel baseline: the same 2-D projections of the pixels, the "before" to the codes'
"after", scored on the very same seeded points."""

from __future__ import annotations

import numpy as np

from .context import subset
from .spectrum import spectrum

# Above this many values per image, raw-pixel LDA takes the first RAW_WIDE_PCS principal
# components (grey 28x28, 784 values, is below it and unchanged).
RAW_WIDE, RAW_WIDE_PCS = 1024, 256


def raw_baseline(ctx, specs, n_eval, latent_result) -> dict:
    """The 2-D projections of raw pixels, each scored and drawn; their scores also land in the
    latent projections' entries of `latent_result` (under "raw")."""
    cfg, N = ctx.cfg, len(ctx.y_all)
    idx = subset(N, cfg.raw_max_samples, cfg.seed)             # its first n_eval are the eval points
    X = ctx.images[idx].reshape(len(idx), -1).astype(np.float32) / 255.0   # (n, C*H*W) in [0, 1]
    y, tr = ctx.y_all[idx], ctx.is_train[idx]
    note = (f"raw pixels ({X.shape[1]}-d), seeded subsample of {len(idx):,} of {N:,} points"
            if len(idx) < N else f"raw pixels ({X.shape[1]}-d), all {N:,} points")
    out = {"n_points": int(len(idx)), "subsampled": bool(len(idx) < N), "note": note, "methods": []}
    shared: dict = {}                  # inputs the methods share (PCA-50, PCA-256, one kNN graph)
    for method, dims in specs:
        if dims != 2 or f"{method}_2d" in out["methods"]:
            continue
        X_in, knn = _raw_input(ctx, shared, method, X)
        est = _raw_fit(ctx, method, X_in, knn, y)
        q = ctx.steps.run(f"raw {method}_2d quality", _quality, X, est, y, tr, n_eval, cfg)
        out["methods"].append(f"{method}_2d")
        _raw_entry(ctx, latent_result, method, est, q, X_in is not X, X_in.shape[1])
        _raw_figure(ctx, method, est, y, q, note, X_in.shape[1] if X_in is not X else None)
        if method == "pca":
            latent_result["raw_pca_spectrum"] = spectrum(ctx.steps, est, ctx.rd, "projections_raw_pca_spectrum.png",
                                                         "PCA eigenvalue spectrum of raw pixels", raw=True)
    return out


def _quality(X, est, y, tr, n_eval, cfg):
    from ...estimators.project import projection_quality

    return projection_quality(X[:n_eval], est.embedding_[:n_eval], y[:n_eval], tr[:n_eval], max_samples=n_eval,
                              random_state=cfg.seed, n_jobs=cfg.n_jobs)


def _raw_input(ctx, shared: dict, method: str, X):
    """(pixels as the method takes them, kNN graph or None): LDA of wide pixels and t-SNE/UMAP
    go through principal components first; t-SNE and UMAP share one exact graph."""
    cfg, steps = ctx.cfg, ctx.steps
    if method == "lda" and X.shape[1] > RAW_WIDE:
        # Wide pixels (32x32 RGB: 3,072 values): LDA's SVD costs minutes at this size. It goes
        # through the first RAW_WIDE_PCS principal components, the Fisherfaces recipe
        # (Belhumeur, Hespanha & Kriegman 1997) for more pixels than one can afford to whiten.
        # (PCA keeps every pixel: its spectrum must be the pixels' own; see PCAProjection.)
        if "pca_wide" not in shared:
            shared["pca_wide"] = steps.run(f"raw pca-{RAW_WIDE_PCS} for LDA", _pca_k, X, RAW_WIDE_PCS, cfg.seed)
        return shared["pca_wide"], None
    if method not in ("tsne", "umap"):
        return X, None
    X_in = X
    if X.shape[1] > 50:
        # The usual recipe for t-SNE/UMAP of pixels (van der Maaten & Hinton 2008): first 50
        # principal components, which keep the neighbourhoods and make the kNN search cheap.
        if "pca50" not in shared:
            shared["pca50"] = steps.run("raw pca-50 for t-SNE/UMAP", _pca50, X, cfg.seed)
        X_in = shared["pca50"]
    if "graph" not in shared:  # one exact graph for both (no pynndescent compile for 5,000 points)
        from ...estimators.neighbors import knn_graph

        shared["graph"] = steps.run(f"raw knn graph (k=91, {len(X_in)} points)", knn_graph, X_in, 91,
                                    random_state=cfg.seed, n_jobs=cfg.n_jobs)
    return X_in, shared["graph"]


def _raw_fit(ctx, method: str, X_in, knn, y):
    from ...estimators.project import make_projection

    cfg = ctx.cfg
    est = make_projection(method, 2, random_state=cfg.seed, n_jobs=cfg.n_jobs, knn=knn,
                          umap_layout=ctx.umap_layout, choice_jobs=ctx.choice_jobs)
    return ctx.steps.run(f"raw {method}_2d fit", est.fit, X_in, y)


def _raw_entry(ctx, latent_result: dict, method: str, est, q: dict, reduced: bool, width: int) -> None:
    """The raw scores, input and seconds in the latent projection's metrics entry."""
    key = f"{method}_2d"
    entry = latent_result.setdefault(key, {"method": method, "requested_dims": 2})
    entry["raw"] = q
    if reduced:
        entry["raw_input"] = f"first {width} principal components of the pixels (scored against all pixels)"
    entry["raw_seconds"] = ctx.steps.timings[f"raw {key} fit"]
    if getattr(est, "notes_", None):
        entry["raw_notes"] = list(est.notes_)


def _raw_figure(ctx, method: str, est, y, q: dict, note: str, via: int | None) -> None:
    from ...figures import latent as latent_figures
    from ...registry import PROJECTIONS

    shown = PROJECTIONS.title(method)
    title = f"{shown} 2-D of raw pixels (before)" + (f", via {via} principal components" if via else "")
    path = ctx.rd.figures / f"projections_raw_{method}_2d.png"
    emb = est.embedding_
    if emb.shape[1] == 1:
        emb = np.column_stack([emb[:, 0], y + np.random.default_rng(0).uniform(-0.3, 0.3, len(y))])
    ctx.steps.run(f"raw {method}_2d figure", latent_figures.scatter_2d, emb, y, ctx.class_names, path, title,
                  axis_names=(f"{shown} 1", f"{shown} 2"), note=note)
    ctx.steps.figure(path, title, "png", f"{shown} of the raw pixels ({note}): the 'before' to the latent "
                     f"'after'. kNN accuracy {q['knn_accuracy']:.3f}, silhouette {q['silhouette']:.3f}, "
                     f"trustworthiness {q['trustworthiness']:.3f} on {q['n_points']:,} points.",
                     method=method, raw=True)


def _pca50(X, seed):
    from sklearn.decomposition import PCA

    return PCA(50, random_state=seed).fit_transform(X).astype(np.float32)   # (n, 50)


def _pca_k(X, k: int, seed):
    """The first k principal components (randomized SVD: k is far below the width)."""
    from sklearn.decomposition import PCA

    k = min(k, *X.shape)
    return PCA(k, svd_solver="randomized", random_state=seed).fit_transform(X).astype(np.float32)
