"""The generation stage: fit samplers on a run's codes, decode a grid per sampler; and
`generate_run`, which composes it with the judge and the walks.

    generate_run(run_dir, cfg: GenerateConfig) -> dict      what `latentatlas run` calls

writes three metrics.json sections, each with its "figures" list:

    generation      samplers fitted on the train codes; a decoded grid per sampler
                    (`sample_section`, here)
    judge           the independent classifier's verdict on every sampler's images
                    (`latentatlas.stages.judge.judge_section`)
    interpolation   decoded class means, walks, the tour, traversals, the 2-d manifold
                    (`latentatlas.stages.walks.interpolation_section`)

Each part is also callable alone on a `RunContext` (`latentatlas.context.open_run`),
which is how the `sample`, `judge` and `interpolate` commands use them. Samplers
are fitted on the training split's codes (AE codes z, or VAE means mu).
"""

from __future__ import annotations

import time

import numpy as np

from ..data.subset import class_indices
from ..context import RunContext
from ..models.codec import decode_codes
from .encode import open_encoded
from .samplers import fit_samplers, sampler_label, sampler_names


def sample_section(ctx: RunContext, cfg, samplers: dict | None = None) -> dict:
    """Decoded sample grids for every sampler; returns (and writes) metrics["generation"]."""
    from ..figures.images import labelled_grid

    t0 = time.perf_counter()
    classes = class_indices(cfg.classes, ctx.class_names)
    samplers = samplers or fit_samplers(ctx, sampler_names(ctx, cfg.samplers), cfg.n_components, cfg.seed)
    names = ctx.class_names
    section = {"fitted_on": f"{len(ctx.train_codes)} training {ctx.code_words}", "kind": ctx.kind,
               "latent_dim": int(ctx.train_codes.shape[1]), "seed": cfg.seed, "samplers": {}, "figures": []}
    for name, sampler in samplers.items():
        n = cfg.n_per_class
        info = {"description": sampler_label(name, sampler)}
        if sampler.knows_classes:
            z, y = sampler.sample(n, random_state=cfg.seed, classes=classes)   # n per class, grouped
            rows = sorted(set(y.tolist()), key=y.tolist().index)
            imgs = decode_codes(ctx.model, z)
            grid = imgs.reshape(len(rows), n, *imgs.shape[1:])
            row_labels = [names[c] for c in rows]
            title = f"{sampler_label(name, sampler)}: {n} samples per class"
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
            title = f"{sampler_label(name, sampler)}: {n} per component"
        else:
            cols = 10
            z, src = sampler.sample(n * cols, random_state=cfg.seed)
            imgs = decode_codes(ctx.model, z)
            grid = imgs.reshape(n, cols, *imgs.shape[1:])
            row_labels = None
            title = f"{sampler_label(name, sampler)}: {n * cols} samples"
        if name == "gmm":
            info.update(n_components=int(sampler.n_components), weights=np.round(sampler.weights_, 4).tolist())
            if hasattr(sampler, "component_class_"):
                info["component_class"] = [names[c] if c >= 0 else None for c in sampler.component_class_]
                info["component_purity"] = np.round(sampler.component_purity_, 3).tolist()
        path, rel = ctx.figure("generation", name.replace("-", "_"))
        labelled_grid(path, grid, row_labels=row_labels, title=title)
        info["grid"] = rel
        section["samplers"][name] = info
        section["figures"].append({"path": rel, "title": f"Samples: {sampler_label(name, sampler)}", "kind": "png",
                                   "section": "generation",
                                   "caption": f"Codes drawn from {sampler_label(name, sampler)} fitted to the "
                                              f"{ctx.code_words} of the training set, decoded by the model."
                                              + (" One row per component: [its majority training class] and "
                                                 "its mixture weight." if name == "gmm" else "")})
    section["seconds"] = round(time.perf_counter() - t0, 3)
    ctx.run.update_metrics("generation", section)
    return section


def generate_run(run_dir, cfg=None, progress: bool = True, wait: bool = False) -> dict:
    """Samples, the judge's verdict and the walks for one trained run (see the module docstring).
    Holds the run folder's lock (wait=True: wait for another writer instead of refusing)."""
    from ..rundir import RunDir

    with RunDir(run_dir).lock(wait=wait, command="latentatlas generate"):
        return _generate(run_dir, cfg, progress)


def _generate(run_dir, cfg, progress: bool) -> dict:
    from ..runtime.progress import ticking
    from ..settings import GenerateConfig
    from .judge import judge_section   # the judge sits above latent/: imported here, where it is composed
    from .walks import interpolation_section

    cfg = cfg or GenerateConfig()
    t0 = time.perf_counter()
    ctx = open_encoded(run_dir)
    out = {}
    with ticking("generate: fit samplers", show=progress):
        samplers = fit_samplers(ctx, sampler_names(ctx, cfg.samplers), cfg.n_components, cfg.seed)
    class_indices(cfg.classes, ctx.class_names)   # fail before writing anything
    with ticking("generate: sample", show=progress):
        out["generation"] = sample_section(ctx, cfg, samplers)
    if cfg.judge:                                 # its training has a bar of its own, then the grading ticks
        out["judge"] = judge_section(ctx, cfg, samplers, progress=progress)
    with ticking("generate: interpolate", show=progress):
        out["interpolation"] = interpolation_section(ctx, cfg)
    ctx.run.record_timing("generate", time.perf_counter() - t0)
    return out


__all__ = ["sample_section", "generate_run"]
