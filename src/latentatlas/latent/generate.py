"""The generation stage: sample codes, decode them, let an independent judge grade them,
and walk the latent space.

    generate_run(run_dir, cfg: GenerateConfig) -> dict      what `latentatlas run` calls

writes three metrics.json sections, each with its "figures" list:

    generation      samplers fitted on the train codes; a decoded grid per sampler
    judge           the pixel classifier's test accuracy; per sampler: fidelity per class,
                    label histograms, Frechet distance to real test images; the floor
                    (real train vs real test) and the model's reconstructions as references
    interpolation   decoded class means, the means as a heat-map, walks (PNG strip + GIF),
                    a tour through all class means (GIF), traversals, the 2-d manifold grid

The three parts are also callable alone (`sample_section`, `judge_section`,
`interpolation_section`) on a `GenContext`, which is how the `sample`,
`judge` and `interpolate` commands use them. Samplers are fitted on the
training split's codes (AE codes z, or VAE means mu).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError
from ..rundir import CONFIG, RunDir, read_json
from .interpolate import class_means, convex_path, manifold_grid, tour, traversal
from .sample import default_samplers, make_sampler


# --------------------------------------------------------------------------- context
@dataclass
class GenContext:
    """Everything the generation stage reads from a run directory, loaded once."""
    run: RunDir
    model: object                      # a latentatlas model in eval mode
    latents: dict                      # as latent.encode.load_latents returns it
    config: dict = field(default_factory=dict)   # config.json
    _dataset: object = None
    _judge: object = None

    @property
    def kind(self) -> str:
        return "vae" if getattr(self.model, "is_variational", False) else "ae"

    @property
    def class_names(self) -> list[str]:
        return list(self.latents["class_names"])

    @property
    def train_codes(self) -> np.ndarray:
        return np.asarray(self.latents["train_mean"], dtype=np.float64)

    @property
    def train_labels(self) -> np.ndarray | None:
        labels = self.latents.get("train_labels")
        return None if labels is None else np.asarray(labels, dtype=np.int64)

    @property
    def code_words(self) -> str:
        return "VAE means mu" if self.kind == "vae" else "autoencoder codes z"

    def dataset(self):
        """The run's dataset, rebuilt from config.json's data section (for the judge and test images)."""
        if self._dataset is None:
            from ..data import load_dataset

            data = self.config.get("data")
            if not isinstance(data, dict):
                raise UserError(f"{self.run / CONFIG} has no data section; re-run `latentatlas train`")
            self._dataset = load_dataset(**data)
        return self._dataset

    def judge(self, progress: bool = True):
        if self._judge is None:
            from ..evaluate import load_or_train_judge

            self._judge = load_or_train_judge(self.dataset(), progress=progress)
        return self._judge

    def figure(self, section: str, name: str, ext: str = "png"):
        """(absolute path, path relative to the run) of figures/<section>_<name>.<ext>."""
        rel = f"figures/{section}_{name}.{ext}"
        return self.run.path / rel, rel


def open_run(run_dir) -> GenContext:
    """Load model, latents (encoding first if needed) and config of a trained run."""
    from ..models import load_model
    from .encode import load_latents

    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise UserError(f"run directory {run.path} does not exist; train one with `latentatlas train --out {run.path}`")
    model = load_model(run.path)
    latents = load_latents(run.path)
    config = read_json(run / CONFIG) if (run / CONFIG).exists() else {}
    return GenContext(run, model, latents, config if isinstance(config, dict) else {})


def decode_codes(model, codes: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """(N, d) codes -> (N, H, W) float32 images in [0, 1] (first channel), in batches, no grad."""
    import torch

    codes = np.asarray(codes, dtype=np.float32)
    out = []
    with torch.no_grad():
        for i in range(0, len(codes), batch_size):
            x = model.decode(torch.from_numpy(codes[i:i + batch_size]))   # (B, C, H, W)
            out.append(x[:, 0].float().cpu().numpy())
    if not out:
        h, w = getattr(model, "image_size", (28, 28))
        return np.zeros((0, h, w), np.float32)
    return np.concatenate(out)


def resolve_class(value, class_names: list[str]) -> int:
    """A class given by name ("Trouser", case-insensitive) or by label ("3") -> its index."""
    text = str(value).strip()
    for i, name in enumerate(class_names):
        if text == str(name) or text.lower() == str(name).lower():
            return i
    if text.lstrip("-").isdigit():
        i = int(text)
        if 0 <= i < len(class_names):
            return i
    raise UserError(f"class {value!r} does not exist; this run's classes are: "
                    f"{', '.join(map(str, class_names))} (or labels 0..{len(class_names) - 1})")


def resolve_classes(values, class_names: list[str]) -> list[int] | None:
    if not values:
        return None
    return [resolve_class(v, class_names) for v in values]


def sampler_names(ctx: GenContext, requested) -> list[str]:
    names = list(requested or ["all"])
    if "all" in names:
        return default_samplers(ctx.kind, has_labels=ctx.train_labels is not None)
    return list(dict.fromkeys(names))  # de-duplicated, order kept


def fit_samplers(ctx: GenContext, names, n_components: int = 10, seed: int = 0) -> dict:
    """name -> sampler fitted on the training codes (with labels)."""
    fitted = {}
    # a learned prior (VaDE's mixture) replaces N(0, I) for the "prior" sampler
    prior = ctx.model.prior_parameters() if hasattr(ctx.model, "prior_parameters") else None
    for name in names:
        sampler = make_sampler(name, model_kind=ctx.kind, n_components=n_components, random_state=seed,
                               prior=prior)
        fitted[name] = sampler.fit(ctx.train_codes, ctx.train_labels)
    return fitted


def _label(name: str, sampler) -> str:
    if name == "prior" and hasattr(sampler, "weights_"):
        return f"prior: the learned mixture, {len(sampler.weights_)} components"
    return {"prior": "prior N(0, I)", "gaussian": "one Gaussian", "class-gaussian": "one Gaussian per class (MLE)",
            "gmm": f"Gaussian mixture, {getattr(sampler, 'n_components', '?')} components"}.get(name, name)


# --------------------------------------------------------------------------- generation
def sample_section(ctx: GenContext, cfg, samplers: dict | None = None) -> dict:
    """Decoded sample grids for every sampler; returns (and writes) metrics["generation"]."""
    from ..report.image_figures import labelled_grid

    t0 = time.perf_counter()
    classes = resolve_classes(cfg.classes, ctx.class_names)
    samplers = samplers or fit_samplers(ctx, sampler_names(ctx, cfg.samplers), cfg.n_components, cfg.seed)
    names = ctx.class_names
    section = {"fitted_on": f"{len(ctx.train_codes)} training {ctx.code_words}", "kind": ctx.kind,
               "latent_dim": int(ctx.train_codes.shape[1]), "seed": cfg.seed, "samplers": {}, "figures": []}
    for name, sampler in samplers.items():
        n = cfg.n_per_class
        info = {"description": _label(name, sampler)}
        if sampler.knows_classes:
            z, y = sampler.sample(n, random_state=cfg.seed, classes=classes)   # n per class, grouped
            rows = sorted(set(y.tolist()), key=y.tolist().index)
            imgs = decode_codes(ctx.model, z)
            grid = imgs.reshape(len(rows), n, *imgs.shape[1:])
            row_labels = [names[c] for c in rows]
            title = f"{_label(name, sampler)}: {n} samples per class"
            info.update(classes=row_labels, n_per_class=n)
        elif name == "gmm":
            # One row per component, so the grid shows what each component learned to draw.
            z, comp = sampler.sample_per_component(n, random_state=cfg.seed)
            k = int(sampler.n_components)
            imgs = decode_codes(ctx.model, z)
            grid = imgs.reshape(k, n, *imgs.shape[1:])
            majority = getattr(sampler, "component_class_", None)
            # Row label: component, its majority training class, its weight.
            row_labels = [f"k{j}" + (f" [{names[majority[j]]}]" if majority is not None and majority[j] >= 0 else "")
                          + f" {sampler.weights_[j]:.0%}" for j in range(k)]
            title = f"{_label(name, sampler)}: {n} per component"
        else:
            cols = 10
            z, src = sampler.sample(n * cols, random_state=cfg.seed)
            imgs = decode_codes(ctx.model, z)
            grid = imgs.reshape(n, cols, *imgs.shape[1:])
            row_labels = None
            title = f"{_label(name, sampler)}: {n * cols} samples"
        if name == "gmm":
            info.update(n_components=int(sampler.n_components), weights=np.round(sampler.weights_, 4).tolist())
            if hasattr(sampler, "component_class_"):
                info["component_class"] = [names[c] if c >= 0 else None for c in sampler.component_class_]
                info["component_purity"] = np.round(sampler.component_purity_, 3).tolist()
        path, rel = ctx.figure("generation", name.replace("-", "_"))
        labelled_grid(path, grid, row_labels=row_labels, title=title)
        info["grid"] = rel
        section["samplers"][name] = info
        section["figures"].append({"path": rel, "title": f"Samples: {_label(name, sampler)}", "kind": "png",
                                   "caption": f"Codes drawn from {_label(name, sampler)} fitted to the "
                                              f"{ctx.code_words} of the training set, decoded by the model."
                                              + (" One row per component: [its majority training class] and "
                                                 "its mixture weight." if name == "gmm" else "")})
    section["seconds"] = round(time.perf_counter() - t0, 3)
    ctx.run.update_metrics("generation", section)
    return section


# --------------------------------------------------------------------------- the judge
def _subsample(n_total: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=min(n, n_total), replace=False))


def judge_section(ctx: GenContext, cfg, samplers: dict | None = None, progress: bool = True) -> dict:
    """The independent judge on every sampler's images; returns (and writes) metrics["judge"]."""
    from ..evaluate import feature_stats, frechet_distance, label_report
    from ..report.image_figures import distance_bars, label_heatmap, labelled_grid

    t0 = time.perf_counter()
    samplers = samplers or fit_samplers(ctx, sampler_names(ctx, cfg.samplers), cfg.n_components, cfg.seed)
    judge = ctx.judge(progress=progress)
    data = ctx.dataset()
    names = ctx.class_names
    if list(judge.class_names) != names:
        raise UserError("the judge's classes differ from this run's classes; delete the judge cache "
                        "(latentatlas judge --retrain) and run again")
    n = cfg.n_judge
    real_mu, real_sigma = feature_stats(judge.features(data.x_test))   # (F,), (F, F): real test images

    def fd_to_test(images) -> float:
        return frechet_distance(*feature_stats(judge.features(images)), real_mu, real_sigma)

    # References, on the same number of images as each sampler gets, so the FDs compare:
    # the floor (real train images) and the model's own reconstructions of train images.
    idx = _subsample(len(data.x_train), n, cfg.seed)
    floor = fd_to_test(data.x_train[idx])
    recon = decode_codes(ctx.model, ctx.train_codes[idx])
    section = {
        "judge": {"dataset_key": judge.key, "test_accuracy": judge.test_accuracy, "cached": judge.cached,
                  "train_seconds": judge.train_seconds, "architecture": "3 conv layers + 128-unit hidden layer",
                  "trained_on": "the dataset's training pixels (never latent codes)"},
        "n_per_sampler": n,
        "fd_features": "the judge's penultimate layer (128 ReLU units)",
        "fd_real_test_n": int(len(data.x_test)),
        "fd_floor_train_vs_test": floor,
        "reconstruction": {"fd": fd_to_test(recon),
                           "accuracy": float((judge.predict(recon) == ctx.train_labels[idx]).mean())},
        "samplers": {},
        "figures": [],
    }
    fds = {}
    for name, sampler in samplers.items():
        if sampler.knows_classes:
            per = max(1, n // len(sampler.classes_))
            z, intended = sampler.sample(per, random_state=cfg.seed + 1)
        else:
            z, src = sampler.sample(n, random_state=cfg.seed + 1)
            comp_cls = getattr(sampler, "component_class_", None)
            intended = comp_cls[src] if comp_cls is not None else None
        images = decode_codes(ctx.model, z)
        predicted = judge.predict(images)
        rep = label_report(predicted, intended, names)
        rep["fd"] = fd = fd_to_test(images)
        rep["description"] = _label(name, sampler)
        if name == "gmm" and intended is not None:
            rep["fidelity_meaning"] = "judge label == the majority training class of the sample's component"
        counts = np.bincount(predicted, minlength=len(names))
        rep["top_label_share"] = float(counts.max() / max(len(predicted), 1))
        fds[_label(name, sampler)] = fd
        section["samplers"][name] = rep
        if intended is not None and sampler.knows_classes:
            table = np.zeros((len(names), len(names)), dtype=np.int64)
            np.add.at(table, (intended, predicted), 1)
            keep = np.unique(intended)
            path, rel = ctx.figure("judge", f"labels_{name.replace('-', '_')}")
            label_heatmap(path, table[keep], [names[c] for c in keep], names,
                          title=f"{_label(name, sampler)}: what the judge sees "
                                f"(fidelity {rep['fidelity']:.3f})")
            section["figures"].append({"path": rel, "title": f"Judge labels: {_label(name, sampler)}", "kind": "png",
                                       "caption": "Rows: the class a code was sampled for; columns: the label the "
                                                  "independent pixel classifier gives the decoded image."})
            # The first few per class, with the judge's disagreements framed in red.
            cols = min(10, per)
            pick = np.concatenate([np.flatnonzero(intended == c)[:cols] for c in keep])
            path, rel = ctx.figure("judge", f"samples_{name.replace('-', '_')}")
            labelled_grid(path, images[pick].reshape(len(keep), cols, *images.shape[1:]),
                          row_labels=[names[c] for c in keep],
                          wrong=(predicted[pick] != intended[pick]).reshape(len(keep), cols),
                          title=f"{_label(name, sampler)}: red frame = judge disagrees")
            section["figures"].append({"path": rel, "title": f"Judged samples: {_label(name, sampler)}", "kind": "png",
                                       "caption": "Generated images; a red frame marks one the judge labels as "
                                                  "another class than the one it was sampled for."})
    path, rel = ctx.figure("judge", "frechet")
    distance_bars(path, fds, floor=floor, reference={"reconstructions": section["reconstruction"]["fd"]})
    section["figures"].insert(0, {"path": rel, "title": "Frechet distance per sampler", "kind": "png",
                                  "caption": f"Frechet distance between {n} generated images and the real test "
                                             "images, in the judge's penultimate-layer features (lower is "
                                             "better). Green: real train images, the floor."})
    section["seconds"] = round(time.perf_counter() - t0, 3)
    ctx.run.update_metrics("judge", section)
    return section


# --------------------------------------------------------------------------- interpolation
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
    from ..report.image_figures import strip_png, walk_gif

    images = decode_codes(ctx.model, convex_path(a, b, steps))
    png, rel_png = ctx.figure("interpolation", f"walk_{tag}")
    gif, rel_gif = ctx.figure("interpolation", f"walk_{tag}", "gif")
    strip_png(png, images, title=f"{label}   (t = 0 ... 1)")
    walk_gif(gif, images, caption=caption_short)
    section["figures"].append({"path": rel_png, "title": f"Walk: {label}", "kind": "png", "caption": caption})
    section["figures"].append({"path": rel_gif, "title": f"Walk: {label} (animated)", "kind": "gif",
                               "caption": caption})
    return {"label": label, "steps": int(steps), "png": rel_png, "gif": rel_gif,
            "distance": float(np.linalg.norm(np.asarray(b) - np.asarray(a)))}


def interpolation_section(ctx: GenContext, cfg, walk_classes=None, walk_indices=None,
                          tour_on: bool | None = None, traverse_on: bool | None = None) -> dict:
    """Class means (decoded and as a heat-map), walks, the tour, traversals, the 2-d manifold."""
    from ..report.image_figures import labelled_grid, manifold_figure, means_heatmap, tour_gif

    t0 = time.perf_counter()
    names = ctx.class_names
    codes, labels = ctx.train_codes, ctx.train_labels
    d = codes.shape[1]
    steps = cfg.steps
    walk_classes = cfg.walks if walk_classes is None else walk_classes
    walk_indices = cfg.walk_indices if walk_indices is None else walk_indices
    tour_on = cfg.tour if tour_on is None else tour_on
    traverse_on = cfg.traverse if traverse_on is None else traverse_on
    # Check every endpoint before writing anything.
    pairs = [(resolve_class(a, names), resolve_class(b, names)) for a, b in (walk_classes or [])]
    test_codes = np.asarray(ctx.latents["test_mean"], dtype=np.float64)
    for i, j in walk_indices or []:
        for v in (i, j):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < len(test_codes):
                raise UserError(f"test image index {v!r} is out of range; this run has test images "
                                f"0..{len(test_codes) - 1}")
    if steps < 2:
        raise UserError(f"--steps must be at least 2 (the two endpoints), got {steps}")
    selected = resolve_classes(cfg.classes, names)

    means = class_means(codes, labels, len(names))                  # (k, d), NaN where a class is empty
    valid = ~np.isnan(means).any(1)
    section = {"codes": f"training {ctx.code_words}", "latent_dim": d, "steps": steps, "walks": [], "figures": []}

    # Decoded class means, and the means themselves (study 000: "look at the means").
    shown = [c for c in (selected or range(len(names))) if valid[c]]
    mean_images = decode_codes(ctx.model, means[shown])
    path, rel = ctx.figure("interpolation", "class_means")
    labelled_grid(path, mean_images[None], col_labels=[names[c] for c in shown], title="Decoded class means")
    section["figures"].append({"path": rel, "title": "Decoded class means", "kind": "png",
                               "caption": f"The mean of each class's training {ctx.code_words}, decoded."})
    std = codes.std(0) + 1e-12
    path, rel = ctx.figure("interpolation", "means_heatmap")
    means_heatmap(path, (means[shown] - codes.mean(0)) / std, [names[c] for c in shown],
                  title="Class means per latent dimension (standardised: (mean - overall mean) / std)")
    section["figures"].append({"path": rel, "title": "Class means, dimension by dimension", "kind": "png",
                               "caption": "Each cell: how far a class's mean sits from the overall mean along "
                                          "one latent dimension, in that dimension's standard deviations."})
    section["class_means"] = {names[c]: np.round(means[c], 5).tolist() for c in shown}

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
    test_labels = np.asarray(ctx.latents["test_labels"])
    for i, j in walk_indices or []:
        label = f"test image {i} ({names[test_labels[i]]}) -> test image {j} ({names[test_labels[j]]})"
        section["walks"].append(_walk(ctx, section, test_codes[i], test_codes[j], steps, f"test_{i}_to_{j}", label,
                                      f"Convex combinations of the codes of two test images, {steps} steps.",
                                      f"#{i} <-> #{j}"))

    # The tour: every (selected) class mean in turn, back to the first (study 004).
    if tour_on and len(shown) >= 2:
        path_codes = tour(means[shown], steps)
        images = decode_codes(ctx.model, path_codes)
        path, rel = ctx.figure("interpolation", "tour", "gif")
        tour_gif(path, images, stop_every=steps - 1, stops=[names[c] for c in shown])
        section["tour"] = {"classes": [names[c] for c in shown], "frames": int(len(images)), "gif": rel}
        section["figures"].append({"path": rel, "title": "A tour through every class mean", "kind": "gif",
                                   "caption": f"From one class mean to the next ({' -> '.join(names[c] for c in shown)}"
                                              f" -> {names[shown[0]]}), pausing at each mean."})

    # Traversals around the overall mean: one row per latent dimension (at most 32 shown).
    if traverse_on:
        dims = np.arange(min(d, 32))
        cols = 11
        grid_codes = traversal(codes.mean(0), std, k=cfg.traverse_k, steps=cols, dims=dims)  # (D, cols, d)
        images = decode_codes(ctx.model, grid_codes.reshape(-1, d)).reshape(len(dims), cols, *mean_images.shape[1:])
        offsets = np.linspace(-cfg.traverse_k, cfg.traverse_k, cols)
        path, rel = ctx.figure("interpolation", "traversal")
        labelled_grid(path, images, row_labels=[f"z{j}" for j in dims],
                      col_labels=[f"{o:+.1f}" if o else "0" for o in offsets],
                      title=f"Traversals: one dimension at a time, {-cfg.traverse_k:+g} to "
                            f"{cfg.traverse_k:+g} std around the mean code")
        section["traversal"] = {"dims": dims.tolist(), "k_std": cfg.traverse_k, "png": rel}
        section["figures"].append({"path": rel, "title": "Latent traversals", "kind": "png",
                                   "caption": "Each row varies one latent dimension from -k to +k of its standard "
                                              "deviation, all others held at the mean code."})

    # A 2-d latent can be shown whole: decode a grid over the occupied region.
    if d == 2:
        n = cfg.manifold_n
        grid, xs, ys = manifold_grid(codes, n=n)
        images = decode_codes(ctx.model, grid).reshape(n, n, *mean_images.shape[1:])
        path, rel = ctx.figure("interpolation", "manifold")
        manifold_figure(path, images, xs, ys, title="Decoded 2-d latent space (1st-99th percentile of the codes)")
        section["manifold"] = {"n": n, "x_range": [float(xs[0]), float(xs[-1])],
                               "y_range": [float(ys[-1]), float(ys[0])], "png": rel}
        section["figures"].append({"path": rel, "title": "The decoded 2-d latent space", "kind": "png",
                                   "caption": "Each image is decoded from the latent point at its centre; the grid "
                                              "spans the 1st to 99th percentile of the training codes."})
    section["seconds"] = round(time.perf_counter() - t0, 3)
    ctx.run.update_metrics("interpolation", section)
    return section


# --------------------------------------------------------------------------- the stage
def generate_run(run_dir, cfg=None, progress: bool = True) -> dict:
    """Samples, the judge's verdict and the walks for one trained run (see the module docstring)."""
    from tqdm.auto import tqdm

    from ..config import GenerateConfig

    cfg = cfg or GenerateConfig()
    t0 = time.perf_counter()
    ctx = open_run(run_dir)
    parts = ["fit samplers", "sample", "judge", "interpolate"] if cfg.judge else ["fit samplers", "sample", "interpolate"]
    bar = tqdm(total=len(parts), desc="generate", disable=not progress or None, leave=False)
    out = {}
    bar.set_postfix_str("fit samplers")
    samplers = fit_samplers(ctx, sampler_names(ctx, cfg.samplers), cfg.n_components, cfg.seed)
    resolve_classes(cfg.classes, ctx.class_names)   # fail before writing anything
    bar.update(1)
    bar.set_postfix_str("sample")
    out["generation"] = sample_section(ctx, cfg, samplers)
    bar.update(1)
    if cfg.judge:
        bar.set_postfix_str("judge")
        out["judge"] = judge_section(ctx, cfg, samplers, progress=progress)
        bar.update(1)
    bar.set_postfix_str("interpolate")
    out["interpolation"] = interpolation_section(ctx, cfg)
    bar.update(1)
    bar.close()
    ctx.run.record_timing("generate", time.perf_counter() - t0)
    return out


__all__ = ["GenContext", "open_run", "decode_codes", "resolve_class", "resolve_classes", "fit_samplers",
           "sample_section", "judge_section", "interpolation_section", "generate_run"]
