"""The samplers of a run, fitted on its training codes: what the sampling stage
(`stages.generate`) and the judge (`stages.judge`) both draw from.

    sampler_names(ctx, requested) -> names      "all" -> every sampler that applies to the run
    fit_samplers(ctx, names, ...) -> {name: fitted sampler}
    sampler_label(name, sampler) -> how the report names it
"""

from __future__ import annotations

from ..context import RunContext
from ..estimators.sample import default_samplers, make_sampler


def sampler_names(ctx: RunContext, requested) -> list[str]:
    names = list(requested or ["all"])
    if "all" in names:
        return default_samplers(ctx.kind, has_labels=ctx.train_labels is not None)
    return list(dict.fromkeys(names))  # de-duplicated, order kept


def fit_samplers(ctx: RunContext, names, n_components: int = 10, seed: int = 0) -> dict:
    """name -> sampler fitted on the training codes (with labels)."""
    fitted = {}
    # a learned prior (VaDE's mixture) replaces N(0, I) for the "prior" sampler
    prior = ctx.model.prior_parameters() if hasattr(ctx.model, "prior_parameters") else None
    for name in names:
        sampler = make_sampler(name, model_kind=ctx.kind, n_components=n_components, random_state=seed,
                               prior=prior)
        fitted[name] = sampler.fit(ctx.train_codes, ctx.train_labels)
    return fitted


def sampler_label(name: str, sampler) -> str:
    """How the report and the figures name a fitted sampler."""
    if name == "prior" and hasattr(sampler, "weights_"):
        return f"prior: the learned mixture, {len(sampler.weights_)} components"
    return {"prior": "prior N(0, I)", "gaussian": "one Gaussian", "class-gaussian": "one Gaussian per class (MLE)",
            "gmm": f"Gaussian mixture, {getattr(sampler, 'n_components', '?')} components"}.get(name, name)
