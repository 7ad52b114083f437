"""Models: ConvAE, ConvVAE, the study architectures, and how to save and rebuild them.

    MODELS                      name -> class ("ae", "vae", "dense-ae", "study000-cae", ...), made
                                from `latentatlas.registry.MODELS` (names, titles: one list)
    build_model(spec)           spec = model.json: {"name": ..., "config": {...}}
    model_from_config(cfg, image_size, in_channels)   from a ModelConfig
    save_model(run_dir, model) / load_model(run_dir, device="cpu")

See `base.LatentModel` for the API every model has (encode, embed, decode, ...).
"""

from __future__ import annotations

import inspect

from .. import registry
from ..errors import UserError
from .base import LatentModel
from .conv import ConvAE, ConvVAE
from .dense import DenseAE
from .io import load_model, save_model
from .losses import RECON_LOSSES, kl_divergence, loss_function, reconstruction_loss
from .studies import Study000CAE, Study001VAE, Study002AE, Study003VAE, Study004AE  # noqa: F401
from .vade import ConvVaDE

# name -> class, for callers that want the classes themselves; the names live in the registry.
MODELS: dict[str, type] = {name: entry.cls for name, entry in registry.MODELS.items()}

__all__ = ["MODELS", "LatentModel", "check_fits_data", "ConvAE", "ConvVAE", "ConvVaDE", "DenseAE", "build_model", "model_from_config",
           "save_model", "load_model", "loss_function", "kl_divergence", "reconstruction_loss",
           "RECON_LOSSES"]


def _model_class(name: str) -> type:
    return MODELS[registry.MODELS.check(name)]


def _check_kwargs(name: str, cls: type, kwargs: dict) -> None:
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    extra = sorted(set(kwargs) - accepted)
    if extra:
        why = "has a fixed architecture and " if name.startswith("study") else ""
        raise UserError(f"model {name!r} {why}takes no {', '.join(extra)}; "
                        f"settable: {', '.join(sorted(accepted))}")
    d = kwargs.get("latent_dim")
    if d is not None and (not isinstance(d, int) or isinstance(d, bool) or d < 1):
        raise UserError(f"latent size must be a whole number >= 1, got {d!r}")
    loss = kwargs.get("loss")
    if loss is not None and loss not in RECON_LOSSES:
        raise UserError(f"unknown reconstruction loss {loss!r}; choose one of: {', '.join(RECON_LOSSES)}")
    ch = kwargs.get("channels")
    if ch is not None and (not ch or any(int(c) < 1 for c in ch)):
        raise UserError(f"channels must be a non-empty list of positive widths, got {ch!r}")


def build_model(spec: dict) -> LatentModel:
    """Rebuild a model from model.json's contents ({"name": ..., "config": {...}})."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise UserError("model.json must hold {\"name\": ..., \"config\": {...}}; re-run `latentatlas train`")
    cls = _model_class(spec["name"])
    kwargs = dict(spec.get("config") or {})
    _check_kwargs(spec["name"], cls, kwargs)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError, RuntimeError) as exc:
        raise UserError(f"cannot build model {spec['name']!r} with {kwargs}: {exc}") from None


def check_fits_data(model: LatentModel, ds, where: str) -> None:
    """UserError (one line) unless `model` takes `ds`'s images: same channels and size.

    A run's data settings can drift from its model (config.json edited, an old folder: run
    read in colour): the network would otherwise fail deep in a convolution."""
    got = (ds.channels, *ds.image_shape)
    want = (model.in_channels, *model.image_size)
    if got != want:
        def words(c, h, w):
            return f"{h}x{w} {'grey' if c == 1 else 'RGB'} ({c} channel{'s' if c > 1 else ''})"
        raise UserError(f"{where}: the model takes {words(*want)} images but its data settings now give "
                        f"{words(*got)}; restore the run's [data] settings in config.json (e.g. color) "
                        "or train a new run")


def model_from_config(cfg, image_size=(28, 28), in_channels: int = 1) -> LatentModel:
    """Build from a ModelConfig; fields left None take the model's own defaults."""
    from dataclasses import asdict

    fields = {k: v for k, v in asdict(cfg).items() if v is not None and k != "name"}
    spec = {"name": cfg.name, "config": {**fields, "image_size": list(image_size), "in_channels": in_channels}}
    return build_model(spec)
