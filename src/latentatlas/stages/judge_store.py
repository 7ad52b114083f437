"""The judge's cache: a classifier trained once per dataset, kept in the user's cache folder.

    load_or_train_judge(dataset) -> Judge      from the cache if trained before, else trained and cached

The classifier itself (estimators/classifier.py) takes arrays and knows nothing of files; this
module keeps its weights (safetensors) and its description (JSON) under the cache folder,
written atomically, so a judge trained by one run serves every later one.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..estimators.classifier import (FEATURE_DIM, JUDGE_VERSION, RECIPES, Judge, build_net, dataset_key,
                                     judge_device, train_judge)


def _paths(key: str) -> tuple[Path, Path]:
    from ..cache import cache_dir

    folder = cache_dir() / "judge"
    return folder / f"{key}.safetensors", folder / f"{key}.json"


def save_judge(judge: Judge) -> Path:
    from safetensors.torch import save_file

    from ..rundir import atomic_save, atomic_write_json

    weights, meta = _paths(judge.key)
    state = {k: v.detach().cpu().contiguous() for k, v in judge.net.state_dict().items()}
    atomic_save(weights, lambda tmp: save_file(state, tmp))
    atomic_write_json(meta, {"version": JUDGE_VERSION, "key": judge.key, "class_names": judge.class_names,
                             "n_classes": judge.n_classes, "feature_dim": FEATURE_DIM,
                             "test_accuracy": judge.test_accuracy, "train_seconds": judge.train_seconds,
                             "epochs": judge.epochs, "budget_seconds": judge.budget_seconds,
                             "recipe": judge.recipe, "in_channels": judge.in_channels, **RECIPES[judge.recipe]})
    return weights


def load_cached_judge(key: str, device=None) -> Judge | None:
    """The cached judge for this key on `device` (runtime.choose_device), or None if absent or
    unreadable (then it is retrained)."""
    from safetensors.torch import load_file

    weights, meta_path = _paths(key)
    if not (weights.exists() and meta_path.exists()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        recipe = meta.get("recipe", "grey")              # judges cached before recipes were grey
        if meta.get("version") != JUDGE_VERSION or recipe not in RECIPES:
            return None
        in_channels = int(meta.get("in_channels", 1))
        net = build_net(int(meta["n_classes"]), int(meta.get("feature_dim", FEATURE_DIM)), recipe, in_channels)
        net.load_state_dict(load_file(str(weights)))
    except Exception:  # a corrupt cache entry is not the user's problem: retrain it
        return None
    net.to(judge_device(device)).eval()
    return Judge(net, list(meta["class_names"]), float(meta["test_accuracy"]), key,
                 meta.get("train_seconds"), cached=True, recipe=recipe, in_channels=in_channels,
                 epochs=meta.get("epochs"), budget_seconds=meta.get("budget_seconds"))


def load_or_train_judge(dataset, retrain: bool = False, progress: bool = True, device=None,
                        **train_kwargs) -> Judge:
    """The judge for this dataset on `device`: from the cache if trained before, else trained now and cached."""
    key = dataset_key(dataset)
    if not retrain:
        judge = load_cached_judge(key, device=device)
        if judge is not None:
            return judge
    judge = train_judge(dataset, progress=progress, device=device, **train_kwargs)
    save_judge(judge)
    return judge
