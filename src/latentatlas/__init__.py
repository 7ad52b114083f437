"""latentatlas: train conv autoencoders / VAEs on image data and map their latent space.

    import latentatlas as la
    run = la.train(dataset="mnist", model="vae", latent_dim=10, epochs=5, out="runs/vae")
    run.encode().analyze().sample().report()
    la.open_run("runs/vae"), la.run(preset="demo", out="runs/demo")      (see latentatlas.api)
    table = la.sweep(grid={"model.latent_dim": [2, 4, 8]}, seeds=3, out="runs/sweep")   # a DataFrame

Importing the package is cheap on purpose (no torch, no scikit-learn): heavy
libraries are imported inside the functions that use them, so that
`latentatlas --help` answers fast; the API's names are loaded on first use.
"""

# The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.1.0"

from .errors import UserError  # noqa: E402,F401

# name -> module that defines it, imported on first use (PEP 562).
_LAZY = {"train": "latentatlas.api", "open_run": "latentatlas.api", "run": "latentatlas.api",
         "sweep": "latentatlas.api", "Run": "latentatlas.api", "Figure": "latentatlas.api"}

__all__ = ["__version__", "UserError", "train", "open_run", "run", "sweep", "Run", "Figure"]


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'latentatlas' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
