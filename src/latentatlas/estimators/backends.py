"""Which library computes each analysis figure: the CPU libraries, or torch (a GPU where there is one).

    backend "cpu"    scikit-learn, openTSNE, umap-learn / pynndescent: the figures this
                     package has always printed (the default without a GPU)
    backend "torch"  estimators/torch_backends.py (exact kNN, k-means, logistic regression, kNN probe)
                     and TorchDR (UMAP), on the device torch has: CUDA where
                     torch.cuda.is_available(), else the CPU (so the tests run them here)
    backend "auto"   "torch" where a CUDA GPU is available, else "cpu"

A registry entry names its torch class in `limits["backends"]["torch"]`; an entry without
one keeps its CPU class on every backend (the exact RBF SVM: libsvm has no torch
counterpart, and an approximation would change the figure). `backend_label` is what
metrics.json and the report show beside each figure ("torch (cuda)", "openTSNE (cpu)").
"""

from __future__ import annotations

import importlib

from ..registry import ANALYSIS_BACKENDS as BACKENDS  # ("auto", "cpu", "torch")

# What computes each CPU estimator, by class name (the CPU classes predate backend_ attributes).
_CPU_LIBRARY = {"TSNEProjection": "openTSNE", "UMAPProjection": "umap-learn", "N2D": "umap-learn + scikit-learn"}


# torch classes that need a library outside the base install (pip install "latentatlas[gpu]").
_NEEDS = {"TorchTSNE": "torchdr", "TorchUMAP": "torchdr"}


def _installed(module: str | None) -> bool:
    import importlib.util

    return module is None or importlib.util.find_spec(module) is not None


def cuda_available() -> bool:
    """True where torch is installed and sees a CUDA GPU (torch imported only here)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_backend(backend: str) -> str:
    """"cpu" or "torch": "auto" is "torch" where there is a CUDA GPU, else the CPU libraries."""
    from ..errors import UserError

    if backend not in BACKENDS:
        raise UserError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "torch" if cuda_available() else "cpu"
    return backend


def entry_class(registry, name: str, backend: str):
    """The class of registry entry `name` for `backend` ("cpu" / "torch", already resolved)."""
    entry = registry.entry(name)
    target = entry.limits.get("backends", {}).get(backend) if backend != "cpu" else None
    if not target or not _installed(_NEEDS.get(target.rpartition(":")[2])):
        return entry.cls       # no torch class, or its library is missing: the CPU one (backend_label says so)
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def backend_label(est) -> str:
    """Library and device of a fitted estimator, e.g. "torch (cuda)", "openTSNE (cpu)"."""
    label = getattr(est, "backend_", None)
    if label:
        return label
    return f"{_CPU_LIBRARY.get(type(est).__name__, 'scikit-learn')} (cpu)"
