"""The probes section: how much of the class (and of each known factor) the codes carry."""

from __future__ import annotations

from .steps import Steps


def probes_section(ctx) -> dict:
    """The probes section: each classifier trained on the training codes and scored on the test
    codes, with its confusion matrix; then the factors of variation the codes carry."""
    from ...figures import latent as latent_figures
    from ...registry import PROBES
    from ...estimators.backends import backend_label
    from ...estimators.probe import evaluate_probe, majority_baseline, make_probe

    rd, cfg, names = ctx.rd, ctx.cfg, ctx.class_names
    X_train, y_train, X_test, y_test = ctx.X_train, ctx.y_train, ctx.X_test, ctx.y_test
    steps = Steps(rd, "probes", ctx.verbose, ctx.record)
    result = {"features": cfg.features, "features_described": ctx.feat_words, "dims": int(X_train.shape[1]),
              "n_train": int(len(X_train)), "n_test": int(len(X_test)), "average": "macro",
              "protocol": "trained on training-split codes, scored on test-split codes; "
                          "StandardScaler inside the pipeline"}
    # the figure to beat: imbalanced classes make a high accuracy cheap (balanced accuracy and macro F1 are not)
    result["majority_baseline"] = baseline = majority_baseline(y_train, y_test, names)
    for name in cfg.probes:
        shown = PROBES.title(name)                               # "SVM (RBF kernel)" for "svm"
        probe = make_probe(name, svm_solver=cfg.svm_solver, exact_max_samples=cfg.svm_exact_max_samples,
                           knn_exact_max_samples=cfg.knn_exact_max_samples, random_state=cfg.seed,
                           n_jobs=cfg.n_jobs, choice_jobs=ctx.choice_jobs, backend=ctx.backend)
        probe = steps.run(f"{name} fit", probe.fit, X_train, y_train)
        scores = steps.run(f"{name} score", evaluate_probe, probe, X_test, y_test, names)
        scores["solver"] = probe.solver_
        scores["backend"] = backend_label(probe)
        scores["fit_seconds"] = steps.timings[f"{name} fit"]
        result[name] = scores
        path = rd.figures / f"probes_{name}_confusion.png"
        title = (f"{shown} on {ctx.feat_words}: accuracy {scores['accuracy']:.4f}, "
                 f"balanced {scores['balanced_accuracy']:.4f}")
        steps.run(f"{name} figure", latent_figures.confusion_matrix, scores["confusion_matrix"], names, path, title)
        steps.figure(path, title, "png",
                     f"Confusion matrix of the {shown} probe ({probe.solver_}) on {len(X_test):,} test codes: "
                     f"accuracy {scores['accuracy']:.4f}, balanced accuracy {scores['balanced_accuracy']:.4f}, "
                     f"macro precision {scores['precision']:.4f}, recall {scores['recall']:.4f}, "
                     f"F1 {scores['f1']:.4f} (the majority-class baseline: accuracy {baseline['accuracy']:.4f}, "
                     f"balanced accuracy {baseline['balanced_accuracy']:.4f}, macro F1 {baseline['f1']:.4f}).")
    if ctx.factors or ctx.data_note:
        result["factors"] = _factor_probes(ctx, steps, result, X_train, X_test)
    result["timings"] = steps.timings
    result["figures"] = steps.figures
    return result


def _factor_probes(ctx, steps, probes: dict, X_train, X_test) -> dict:
    """How much of the class and of each known factor (mnist-color's hue) the codes carry:
    the best class probe's accuracy, and per factor the R^2 of regressors trained on the
    training codes and scored on the test codes (estimators/factors.py)."""
    from ...estimators.factors import class_entry, probe_factor

    out = {}
    if ctx.data_note:
        out["note"] = ctx.data_note
    best = class_entry(probes)
    if best:
        out["class"] = best
    n = len(X_train)
    for name, values in ctx.factors.items():
        out[name] = steps.run(f"factor {name} probes", probe_factor, name, X_train, values[:n], X_test, values[n:],
                              n_jobs=ctx.cfg.n_jobs)
    return out

