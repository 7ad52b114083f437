"""The analysis context: what every section of `analyze` shares, read once from the run folder."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ...errors import UserError
from ...rundir import LATENTS, RunDir
from .steps import Steps


@dataclass
class AnalysisContext:
    """The codes (train rows then test rows in the *_all arrays), labels, images and factors of
    one run, its analysis settings, and the work the sections share (the kNN graphs, by point
    set; the explorer's 2-D maps a lane hands back)."""

    rd: RunDir
    cfg: object                          # the AnalysisConfig, validated
    specs: list[tuple[str, int]]         # (method, dims) of each projection asked for
    backend: str                         # "cpu" or "torch"
    choice_jobs: int
    umap_layout: str
    record: bool                         # False in a lane's process: the parent records
    verbose: bool
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    X_all: np.ndarray
    y_all: np.ndarray
    is_train: np.ndarray
    class_names: list[str]
    n_clusters: int
    feat_words: str
    images: np.ndarray | None
    factors: dict
    data_note: str | None
    fit_idx: np.ndarray
    X_fit: np.ndarray
    graph: dict = field(default_factory=dict)
    graph_k: int | None = None
    steps: Steps | None = None
    maps: list[dict] = field(default_factory=list)


def validated(cfg):
    """The analysis settings checked, with --jobs resolved to a number."""
    from ...runtime import resolve_jobs
    from ...settings import AnalysisConfig

    cfg = AnalysisConfig() if cfg is None else cfg
    # replace() re-runs __post_init__'s checks; n_jobs None: every core this process may use
    return replace(cfg, n_jobs=resolve_jobs(cfg.n_jobs))


def resolve_analysis_backend(cfg) -> str:
    """"cpu" or "torch": the analysis backend `cfg.backend` resolves to here (estimators/backends.py)."""
    from ...estimators.backends import resolve_backend

    return resolve_backend(cfg.backend)


def open_analysis(rd: RunDir, cfg, verbose: bool, choice_jobs: int | None = None,
                  lane: bool = False) -> AnalysisContext:
    """Everything the sections share, read once from the run context: the codes, labels, data,
    seeded fit subset, settings.

    choice_jobs: the job count that picks an algorithm where the job count does (UMAP's layout,
    t-SNE's gradient, the SVM's pairs), default cfg.n_jobs; a lane runs on a share of the cores
    but chooses as the whole --jobs does. lane=True: a lane's process, which prints no header and
    leaves metrics.json (timings included) to the process that started it."""
    from ...context import open_run
    from ...estimators.project import umap_layout
    from ...settings import parse_projection_spec
    from ..encode import describe_features, encode_run, features

    run = open_run(rd.path)
    if not run.has_latents:            # the codes are the encode stage's: encoded first
        encode_run(rd.path)
    latents = run.latents
    # Check the feature choice before anything is written (an AE has no log-variances).
    X_train = features(latents, "train", cfg.features, seed=cfg.seed)
    X_test = features(latents, "test", cfg.features, seed=cfg.seed + 1)
    y_train, y_test = latents["train_labels"], latents["test_labels"]
    if len(np.unique(y_train)) < 2:
        raise UserError("the run's training split has fewer than 2 classes; nothing to separate")
    feat_words = describe_features(cfg.features, latents["kind"])
    if verbose and not lane:
        print(f"analyze {rd.path}: {feat_words} ({cfg.features}), {X_train.shape[1]}-d, "
              f"{len(X_train)} train + {len(X_test)} test codes", flush=True)
    X_all = np.concatenate([X_train, X_test])                   # (N, d): train rows then test rows
    images, factors, data_note = images_and_factors(run, cfg, len(y_train), len(y_test))
    choice_jobs = choice_jobs or cfg.n_jobs
    # Projections fit on a seeded permutation (prefix) of the points; clustering "all" reuses the same
    # permuted array when it is complete, so the kNN graph built for t-SNE/UMAP serves N2D too.
    fit_idx = subset(len(X_all), cfg.projection_max_samples, cfg.seed)
    return AnalysisContext(
        rd=rd, cfg=cfg, specs=[parse_projection_spec(s) for s in cfg.projections],
        backend=resolve_analysis_backend(cfg), choice_jobs=choice_jobs,
        umap_layout=umap_layout(cfg.umap_layout, choice_jobs), record=not lane, verbose=verbose,
        X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, X_all=X_all,
        y_all=np.concatenate([y_train, y_test]), is_train=np.arange(len(X_all)) < len(X_train),
        class_names=latents["class_names"], n_clusters=cfg.n_clusters or len(latents["class_names"]),
        feat_words=feat_words, images=images, factors=factors, data_note=data_note,
        fit_idx=fit_idx, X_fit=X_all[fit_idx])


def forget_timings(rd: RunDir, sections: list[str]) -> None:
    """Drop the step timings of an earlier analysis of these sections (steps may differ now)."""
    rd.forget_timings([f"analyze.{s}." for s in sections])


def images_and_factors(run, cfg, n_train: int, n_test: int):
    """(images, factors, note) of the run's data, train rows then test rows, as far as asked for:
    images uint8 (N, C, H, W) for the raw baseline and the hover images (None when neither is on
    or the config has no data section); factors {name: (N,) floats} for the factor probes and
    the colourings (empty for a dataset without any). The figures need the data, so failing to
    load it is an error then; the probes alone only skip their factors (note says why)."""
    need_images = cfg.raw_baseline or cfg.interactive
    if not (need_images or cfg.probes) or not run.config.get("data"):
        return None, {}, None
    try:
        data = load_run_data(run, n_train, n_test)
    except UserError as exc:
        if need_images:
            raise
        return None, {}, f"the run's data did not load, so no factor of variation was probed: {exc}"
    factors = {k: np.concatenate([np.asarray(v, np.float64), np.asarray(data.factors_test[k], np.float64)])
               for k, v in data.factors_train.items() if k in data.factors_test}
    return (np.concatenate([data.x_train, data.x_test]) if need_images else None), factors, None


def load_run_data(run, n_train: int, n_test: int):
    """The run's ImageDataset (from its run context), checked against its latents.npz."""
    data = run.dataset()
    if len(data.x_train) != n_train or len(data.x_test) != n_test:
        raise UserError(f"{run.run / LATENTS} does not match the run's data ({n_train}+{n_test} codes, "
                        f"{len(data.x_train)}+{len(data.x_test)} images); re-run `latentatlas encode {run.path}`")
    return data


def shared_graph(ctx, X, n_neighbors: int):
    """One kNN graph per point set, big enough for every method that asked (built on first use)."""
    from ...estimators.neighbors import knn_graph

    key = (id(X), len(X))
    have = ctx.graph.get(key)
    if have is None or have[0].shape[1] < n_neighbors:
        need = max(n_neighbors, (ctx.graph_k or n_neighbors))
        have = ctx.steps.run(f"knn graph (k={need}, {len(X)} points)", knn_graph, X, need,
                             random_state=ctx.cfg.seed, n_jobs=ctx.cfg.n_jobs, backend=ctx.backend,
                             exact_max_samples=ctx.cfg.knn_exact_max_samples)
        ctx.graph[key] = have
    return have


def subset(n: int, size: int | None, seed: int) -> np.ndarray:
    """Seeded prefix of one fixed permutation: smaller subsets lie inside larger ones."""
    perm = np.random.default_rng(seed).permutation(n)
    return perm[: min(n, size)] if size else perm


def n_eval(ctx) -> int:
    """Points every projection is scored on, latent and raw alike (a prefix of the fit subset)."""
    cfg, N = ctx.cfg, len(ctx.X_all)
    return min(len(ctx.fit_idx), cfg.quality_max_samples, cfg.raw_max_samples if cfg.raw_baseline else N)


def graph_neighbours(ctx, specs) -> int:
    """Neighbours of the one kNN graph of every fitted code that UMAP (15), N2D (n2d_neighbors)
    and a full-size 2-D t-SNE (3 * perplexity + 1 = 91) share; t-SNE on a subsample builds its own."""
    cfg, n_fit, N = ctx.cfg, len(ctx.fit_idx), len(ctx.X_all)
    k = 15
    if any(m == "tsne" and dims == 2 for m, dims in specs) and not (
            cfg.tsne_max_samples and n_fit > cfg.tsne_max_samples):
        k = 91
    if "n2d" in cfg.clusterers and cfg.cluster_split == "all" and n_fit == N:
        k = max(k, cfg.n2d_neighbors)
    return k

