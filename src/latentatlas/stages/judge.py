"""The judge stage: grade every sampler's decoded images with the independent classifier.

    judge_section(ctx: RunContext, cfg: GenerateConfig, samplers=None) -> dict

writes metrics.json "judge": the classifier's test accuracy; per sampler the
fidelity (sampled for class c, labelled c?), label histograms and the Frechet
distance to real test images; the floor (real train vs real test images) and the
model's own reconstructions as references; and the figures, filed under the
report's "generation" section.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import UserError
from ..context import RunContext
from ..models.codec import decode_codes
from ..runtime.progress import ticking
from .samplers import fit_samplers, sampler_label, sampler_names
from ..estimators.frechet import feature_stats, frechet_distance

SECTION = "generation"     # the report section the judge's figures go to
# On the user's own data (folder:, npz:) the judge must cost little beside the model it grades:
# it trains within this share of the VAE's training time (its epochs cut to fit, at least one).
BUDGET_SHARE = 0.25
MIN_TRAIN_PER_CLASS = 20   # fewer training images in a class: no judge can grade it (none is trained)
TRUSTED_ACCURACY = 0.5     # below this test accuracy the judge's fidelity figures mean little


def _subsample(n_total: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=min(n, n_total), replace=False))


def _train_seconds(ctx: RunContext) -> float | None:
    seconds = (ctx.run.read_metrics().get("train") or {}).get("seconds")
    return float(seconds) if isinstance(seconds, (int, float)) and seconds > 0 else None


def judge_budget(ctx: RunContext) -> float | None:
    """Seconds the judge may train: BUDGET_SHARE of the VAE's training time on the user's own data
    (a folder or an .npz); None (the recipe's epochs) for the built-in datasets, whose judges are
    trained once for everybody's runs."""
    from ..data.registry import entry_for

    entry = entry_for(ctx.dataset().name)
    seconds = _train_seconds(ctx)
    return BUDGET_SHARE * seconds if entry is not None and entry.takes_path and seconds else None


def too_few_to_judge(data) -> str | None:
    """Why no judge can grade this data (a class with too few training images), or None."""
    counts = np.bincount(data.y_train, minlength=data.n_classes)
    few = [f"{data.class_names[c]!r} ({counts[c]})" for c in np.flatnonzero(counts < MIN_TRAIN_PER_CLASS)]
    if not few:
        return None
    return (f"class{'es' if len(few) > 1 else ''} {', '.join(few[:5])}{' ...' if len(few) > 5 else ''} "
            f"{'have' if len(few) > 1 else 'has'} fewer than {MIN_TRAIN_PER_CLASS} training images: a pixel "
            "classifier cannot learn such a class well enough to grade generated images of it, so no judge "
            "was trained and no fidelity or Frechet distance is given (--classes can leave such classes out)")


def context_judge(ctx: RunContext, progress: bool = True):
    """The judge for the run's dataset: loaded (or trained within judge_budget and cached) once per context."""
    if ctx._judge is None:
        from .judge_store import load_or_train_judge

        ctx._judge = load_or_train_judge(ctx.dataset(), progress=progress, device=ctx.device,
                                         max_seconds=judge_budget(ctx))
    return ctx._judge


def judge_quality(judge, train_seconds: float | None, balanced: float, majority: float) -> dict:
    """How far the judge's figures can be trusted: its accuracy and balanced accuracy on real test
    images beside the share of the largest class (what a judge that learned nothing scores), what
    it cost beside the VAE's training, and a verdict in words. Trusted when its balanced accuracy
    (the mean recall over classes, which the largest class alone cannot raise) reaches TRUSTED_ACCURACY."""
    share = judge.train_seconds / train_seconds if judge.train_seconds and train_seconds else None
    trusted = balanced >= TRUSTED_ACCURACY
    verdict = (f"it labels {judge.test_accuracy:.1%} of real test images correctly (balanced accuracy "
               f"{balanced:.3f}; calling every image the largest class would score {majority:.1%}): ")
    verdict += ("read each fidelity against that" if trusted else
                f"its balanced accuracy is below {TRUSTED_ACCURACY}, too weak a judge for fidelity figures to mean "
                "much (more images per class or a longer training would help)")
    return {"balanced_accuracy": round(float(balanced), 4), "majority_share": round(float(majority), 4),
            "epochs": judge.epochs, "budget_seconds": None if judge.budget_seconds is None
            else round(judge.budget_seconds, 1), "share_of_model_training": None if share is None else round(share, 3),
            "trusted": bool(trusted), "verdict": verdict}


def _on_real_test(judge, data) -> tuple[float, float]:
    """(the judge's balanced accuracy on the real test images, the largest class's share of them)."""
    from sklearn.metrics import balanced_accuracy_score

    counts = np.bincount(data.y_test, minlength=data.n_classes)
    return (float(balanced_accuracy_score(data.y_test, judge.predict(data.x_test))),
            float(counts.max() / max(1, counts.sum())))


def _fd_to(judge, real_mu, real_sigma):
    return lambda images: frechet_distance(*feature_stats(judge.features(images)), real_mu, real_sigma)


def _references(ctx: RunContext, judge, data, cfg):
    """The real test images' feature statistics, and the references each sampler's FD compares with,
    on as many images as each sampler gets: the floor (real train images) and the model's own
    reconstructions of train images."""
    real_mu, real_sigma = feature_stats(judge.features(data.x_test))   # (F,), (F, F): real test images
    idx = _subsample(len(data.x_train), cfg.n_judge, cfg.seed)
    floor = _fd_to(judge, real_mu, real_sigma)(data.x_train[idx])
    return real_mu, real_sigma, floor, decode_codes(ctx.model, ctx.train_codes[idx]), idx


def judge_section(ctx: RunContext, cfg, samplers: dict | None = None, progress: bool = True) -> dict:
    """The independent judge on every sampler's images; returns (and writes) metrics["judge"]."""
    from ..figures.images import distance_bars

    t0 = time.perf_counter()
    data = ctx.dataset()
    reason = too_few_to_judge(data)
    if reason:
        section = {"judge": {"graded": False, "reason": reason}, "figures": [],
                   "seconds": round(time.perf_counter() - t0, 3)}
        ctx.run.update_metrics("judge", section)
        return section
    samplers = samplers or fit_samplers(ctx, sampler_names(ctx, cfg.samplers), cfg.n_components, cfg.seed)
    judge = context_judge(ctx, progress=progress)
    if list(judge.class_names) != ctx.class_names:
        raise UserError("the judge's classes differ from this run's classes; delete the judge cache "
                        "(latentatlas judge --retrain) and run again")
    n = cfg.n_judge
    with ticking("judge: real-image references", show=progress):
        real_mu, real_sigma, floor, recon, idx = _references(ctx, judge, data, cfg)
    fd_to_test = _fd_to(judge, real_mu, real_sigma)

    section = {
        "judge": {"dataset_key": judge.key, "test_accuracy": judge.test_accuracy, "cached": judge.cached,
                  "train_seconds": judge.train_seconds, "architecture": judge.architecture,
                  "trained_on": "the dataset's training pixels (never latent codes)",
                  **judge_quality(judge, _train_seconds(ctx), *_on_real_test(judge, data))},
        "n_per_sampler": n,
        "fd_features": judge.feature_description,
        "fd_real_test_n": int(len(data.x_test)),
        "fd_floor_train_vs_test": floor,
        "reconstruction": {"fd": fd_to_test(recon),
                           "accuracy": float((judge.predict(recon) == ctx.train_labels[idx]).mean())},
        "samplers": {},
        "figures": [],
    }
    fds = {}
    for name, sampler in samplers.items():
        with ticking(f"judge: grading {name} samples", show=progress):
            rep = _grade_sampler(ctx, judge, name, sampler, cfg, fd_to_test, section["figures"])
        fds[sampler_label(name, sampler)] = rep["fd"]
        section["samplers"][name] = rep
    path, rel = ctx.figure("judge", "frechet")
    distance_bars(path, fds, floor=floor, reference={"reconstructions": section["reconstruction"]["fd"]})
    section["figures"].insert(0, {"path": rel, "title": "Frechet distance per sampler", "kind": "png",
                                  "section": SECTION,
                                  "caption": f"Frechet distance between {n} generated images and the real test "
                                             "images, in the judge's penultimate-layer features (lower is "
                                             "better). Green: real train images, the floor."})
    section["seconds"] = round(time.perf_counter() - t0, 3)
    ctx.run.update_metrics("judge", section)
    return section


def _grade_sampler(ctx: RunContext, judge, name: str, sampler, cfg, fd_to_test, figures: list) -> dict:
    """One sampler: cfg.n_judge images decoded and labelled by the judge; its figures appended."""
    names = ctx.class_names
    n = cfg.n_judge
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
    rep["fd"] = fd_to_test(images)
    rep["description"] = sampler_label(name, sampler)
    if name == "gmm" and intended is not None:
        rep["fidelity_meaning"] = "judge label == the majority training class of the sample's component"
    counts = np.bincount(predicted, minlength=len(names))
    rep["top_label_share"] = float(counts.max() / max(len(predicted), 1))
    if intended is not None and sampler.knows_classes:
        figures += _label_figures(ctx, name, sampler, images, intended, predicted, rep["fidelity"], min(10, per))
    return rep


def _label_figures(ctx: RunContext, name: str, sampler, images, intended, predicted, fidelity: float,
                   cols: int) -> list[dict]:
    """What the judge sees per intended class (heat-map) and the first `cols` images of each class,
    the judge's disagreements framed in red."""
    from ..figures.images import label_heatmap, labelled_grid

    names = ctx.class_names
    label = sampler_label(name, sampler)
    table = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(table, (intended, predicted), 1)
    keep = np.unique(intended)
    path, rel_labels = ctx.figure("judge", f"labels_{name.replace('-', '_')}")
    label_heatmap(path, table[keep], [names[c] for c in keep], names,
                  title=f"{label}: what the judge sees (fidelity {fidelity:.3f})")
    pick = np.concatenate([np.flatnonzero(intended == c)[:cols] for c in keep])
    path, rel_samples = ctx.figure("judge", f"samples_{name.replace('-', '_')}")
    labelled_grid(path, images[pick].reshape(len(keep), cols, *images.shape[1:]),
                  row_labels=[names[c] for c in keep],
                  wrong=(predicted[pick] != intended[pick]).reshape(len(keep), cols),
                  title=f"{label}: red frame = judge disagrees")
    return [{"path": rel_labels, "title": f"Judge labels: {label}", "kind": "png", "section": SECTION,
             "caption": "Rows: the class a code was sampled for; columns: the label the "
                        "independent pixel classifier gives the decoded image."},
            {"path": rel_samples, "title": f"Judged samples: {label}", "kind": "png", "section": SECTION,
             "caption": "Generated images; a red frame marks one the judge labels as "
                        "another class than the one it was sampled for."}]


def label_report(predicted: np.ndarray, intended: np.ndarray | None, class_names: list[str]) -> dict:
    """Fidelity per intended class (fraction the judge labels as that class) and label histograms.

    predicted, intended: (N,) int labels. With intended None only the overall histogram.
    """
    k = len(class_names)
    predicted = np.asarray(predicted, dtype=np.int64)
    out = {"n": int(len(predicted)),
           "label_histogram": {class_names[c]: int(n) for c, n in enumerate(np.bincount(predicted, minlength=k))}}
    if intended is None:
        return out
    intended = np.asarray(intended, dtype=np.int64)
    out["fidelity"] = float((predicted == intended).mean()) if len(predicted) else None
    per_class = {}
    for c in np.unique(intended):
        sel = intended == c
        hist = np.bincount(predicted[sel], minlength=k)
        per_class[class_names[c]] = {
            "n": int(sel.sum()),
            "fidelity": float(hist[c] / sel.sum()),
            "label_histogram": {class_names[j]: int(n) for j, n in enumerate(hist) if n},
        }
    out["per_class"] = per_class
    return out

__all__ = ["judge_section", "context_judge", "label_report"]
