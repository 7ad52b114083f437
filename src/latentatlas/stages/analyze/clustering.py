"""The clustering section: GMM, k-means and N2D on the codes, scored by Hungarian-matched
accuracy, NMI and ARI (labels used only to score)."""

from __future__ import annotations

import numpy as np

from .context import shared_graph
from .steps import Steps


def clustering_section(ctx) -> dict:
    """The clustering section: each clusterer fitted without labels, scored against them, drawn."""
    from ...estimators.backends import backend_label
    from ...estimators.neighbors import graph_label
    from ...estimators.cluster import make_clusterer, score_clustering

    rd, cfg, names, n_clusters = ctx.rd, ctx.cfg, ctx.class_names, ctx.n_clusters
    steps = ctx.steps = Steps(rd, "clustering", ctx.verbose, ctx.record)
    X, y = _cluster_points(ctx)
    result = {"features": cfg.features, "features_described": ctx.feat_words, "split": cfg.cluster_split,
              "n_points": int(len(X)), "n_clusters": n_clusters, "n_classes": len(names),
              "labels_used": "only to score (Hungarian-matched accuracy, NMI, ARI)"}
    for name in cfg.clusterers:
        knn = _n2d_graph(ctx, X) if name == "n2d" else None
        est = make_clusterer(name, n_clusters, random_state=cfg.seed, covariance_type=cfg.covariance_type,
                             n_init=cfg.n_init, n_neighbors=cfg.n2d_neighbors, n_jobs=cfg.n_jobs, knn=knn,
                             backend=ctx.backend, layout=ctx.umap_layout)
        est = steps.run(f"{name} fit", est.fit, X)
        scores = score_clustering(y, est.labels_, names)
        scores["backend"] = backend_label(est)
        notes = list(getattr(getattr(est, "umap_", None), "notes_", []))     # N2D's UMAP layout
        if notes:
            scores["notes"] = notes
        if knn is not None:             # N2D's UMAP graph: exact or, above knn_exact_max_samples, approximate
            scores["knn_graph_backend"] = graph_label(ctx.backend, X.shape[1], len(X), cfg.knn_exact_max_samples)
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
    split = ctx.cfg.cluster_split
    mask = {"all": np.ones(len(ctx.y_all), bool), "train": ctx.is_train, "test": ~ctx.is_train}[split]
    if split == "all" and len(ctx.fit_idx) == len(mask):
        return ctx.X_fit, ctx.y_all[ctx.fit_idx]
    return ctx.X_all[mask], ctx.y_all[mask]


def _n2d_graph(ctx, X):
    """The kNN graph N2D's UMAP needs: the shared one when it is wide enough, else built now."""
    k = ctx.cfg.n2d_neighbors
    knn = ctx.graph.get((id(X), len(X)))
    if knn is None or knn[0].shape[1] < k:
        ctx.graph_k = k
        knn = shared_graph(ctx, X, k)
    return knn


def _cluster_table_figure(ctx, steps, name: str, scores: dict, n_points: int) -> None:
    """The cluster-to-label table, clusters in the order of their matched class (good = diagonal)."""
    from ...figures import latent as latent_figures
    from ...registry import CLUSTERERS

    names, shown = ctx.class_names, CLUSTERERS.title(name)
    table = np.asarray(scores["table"]["counts"])                  # (clusters, classes)
    rows, to_label = scores["table"]["rows"], scores["cluster_to_label"]
    matched = [names.index(to_label[r.split()[-1]]) if to_label.get(r.split()[-1]) in names else len(names)
               for r in rows]
    order = np.argsort(matched, kind="stable")
    table, rows = table[order], [f"{rows[i]} ({to_label.get(rows[i].split()[-1]) or '-'})" for i in order]
    path = ctx.rd.figures / f"clustering_{name}_table.png"
    title = f"{shown}: cluster accuracy {scores['accuracy']:.4f}, NMI {scores['nmi']:.4f}, ARI {scores['ari']:.4f}"
    steps.run(f"{name} table figure", latent_figures.confusion_matrix, table, names, path, title,
              xlabel="true class", ylabel="cluster (matched class)", row_names=rows)
    steps.figure(path, title, "png", f"Cluster-to-label table of {shown} on {n_points:,} codes "
                 f"({ctx.cfg.cluster_split} split, {ctx.feat_words}); no labels used to fit. Balanced accuracy "
                 f"{scores['balanced_accuracy']:.4f}; one cluster for every point (the majority-class baseline) "
                 f"would score {scores['majority_baseline']['accuracy']:.4f} "
                 f"({scores['majority_baseline']['class']}).")


def _gmm_ellipses(ctx, steps, gmm, X, y, n_clusters: int) -> None:
    """Study 003: the mixture's Gaussians as ellipses over the 2-D codes; for a wider latent,
    the same Gaussians pushed through the (linear) PCA map onto its plane."""
    from ...figures import latent as latent_figures
    from ...estimators.project import PCAProjection
    from ...estimators.sample import full_covariances

    cfg, covs = ctx.cfg, full_covariances(gmm)
    if X.shape[1] == 2:
        emb, ell, axes, where = X, list(zip(gmm.means_, covs)), ("latent 1", "latent 2"), "2-D latent"
    else:
        plane = steps.run("pca plane", PCAProjection(2, random_state=cfg.seed).fit, X)
        emb = plane.embedding_
        ell = [plane.project_gaussian(m, c) for m, c in zip(gmm.means_, covs)]
        axes, where = ("PCA 1", "PCA 2"), "PCA plane of the codes"
    path = ctx.rd.figures / "clustering_gmm_ellipses.png"
    t = f"Gaussian mixture ({n_clusters} components, {cfg.covariance_type}) on the {where}"
    steps.run("gmm ellipses figure", latent_figures.scatter_2d, emb, y, ctx.class_names, path, t,
              axis_names=axes, note=f"{len(X):,} codes coloured by true class; ellipses at 1 and 2 s.d.",
              ellipses=ell)
    steps.figure(path, t, "png", "The fitted mixture's Gaussians (1 and 2 standard deviations) over the "
                 f"codes, coloured by their true class ({where}).")

