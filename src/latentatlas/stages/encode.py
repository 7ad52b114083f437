"""Latent codes of a run's train and test splits, stored in `latents.npz`.

    train_mean, test_mean        float32 (N, d)   AE codes, or VAE means mu
    train_logvar, test_logvar    float32 (N, d)   VAE only
    train_labels, test_labels    int64 (N,)
    class_names                  str (k,)
    kind                         "ae" | "vae"

Analysis uses the means by default (a sampled z adds noise the encoder did not
put there; see DESIGN.md on pythae); `features()` gives the other choices.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import UserError
from ..registry import FEATURES
from ..context import RunContext, open_run, read_latents
from ..rundir import CONFIG, LATENTS, MODEL_JSON, WEIGHTS, RunDir

SPLITS = ("train", "test", "all")


def encode_run(run_dir, batch_size: int = 1024, device=None, wait: bool = False) -> dict:
    """Encode both splits with the run's model; write latents.npz and metrics["encode"]
    (holding the run folder's lock; wait=True waits for another writer to finish)."""
    rd = RunDir(run_dir)
    rd.require(CONFIG, MODEL_JSON, WEIGHTS)
    if batch_size < 1:
        raise UserError(f"batch size must be at least 1, not {batch_size}")
    with rd.lock(wait=wait, command="latentatlas encode"):
        return _encode_run(rd, batch_size, device)


def _encode_run(rd: RunDir, batch_size: int, device) -> dict:
    from ..models import check_fits_data
    from ..models.codec import encode_images

    t0 = time.perf_counter()
    ctx = open_run(rd.path, device=device or None)          # none given: the CUDA GPU when there is one
    ctx.data_settings()
    model, data = ctx.model, ctx.dataset()
    check_fits_data(model, data, str(rd.path))

    train_mean, train_logvar = encode_images(model, data.x_train, batch_size, ctx.device, "encode train")
    test_mean, test_logvar = encode_images(model, data.x_test, batch_size, ctx.device, "encode test")
    kind = "vae" if train_logvar is not None else "ae"
    arrays = dict(train_mean=train_mean, test_mean=test_mean,
                  train_labels=np.asarray(data.y_train, np.int64),
                  test_labels=np.asarray(data.y_test, np.int64),
                  class_names=np.asarray([str(c) for c in data.class_names]),
                  kind=np.asarray(kind))
    if kind == "vae":
        arrays.update(train_logvar=train_logvar, test_logvar=test_logvar)
    rd.write_latents(arrays)

    seconds = time.perf_counter() - t0
    metrics = {
        "kind": kind,
        "latent_dim": int(train_mean.shape[1]),
        "n_train": int(len(train_mean)),
        "n_test": int(len(test_mean)),
        "stored": "means and log-variances" if kind == "vae" else "codes",
        "default_features": "mean",
        "dataset": data.name,
        "class_names": [str(c) for c in data.class_names],
        "seconds": round(seconds, 3),
        "figures": [],
    }
    rd.update_metrics("encode", metrics)
    rd.record_timing("encode", seconds)
    return metrics


def load_latents(run_dir, encode_if_missing: bool = True, device=None) -> dict:
    """latents.npz as a dict of arrays ("kind" a str, "class_names" a list); encoded first (on
    `device`) if missing."""
    rd = RunDir(run_dir)
    if not (rd / LATENTS).exists() and encode_if_missing:
        encode_run(rd.path, device=device)
    return read_latents(rd)


def open_encoded(run_dir, device=None) -> RunContext:
    """The run context of a trained run whose codes exist: encoded first when latents.npz is
    missing (latents.npz is this stage's), the model loaded now so a run without one fails here."""
    ctx = open_run(run_dir, device=device)
    if not ctx.has_latents:
        encode_run(ctx.path, device=device)
    ctx.latents, ctx.model
    return ctx


def labels(latents: dict, split: str = "train") -> np.ndarray:
    """int64 (N,) labels of a split ("train", "test" or "all" = train then test)."""
    _check_split(split)
    if split == "all":
        return np.concatenate([latents["train_labels"], latents["test_labels"]])
    return latents[f"{split}_labels"]


def features(latents: dict, split: str = "train", kind: str = "mean", seed: int = 0) -> np.ndarray:
    """float32 (N, d) or (N, 2d) features of one split.

    "mean":       AE codes z, or VAE means mu (the default; deterministic)
    "mu+logvar":  VAE only: [mu, log sigma^2] concatenated, (N, 2d) (study 001's 20-d codes)
    "z":          VAE only: z = mu + sigma * eps, eps ~ N(0, I) seeded by `seed`
    """
    _check_split(split)
    if FEATURES.entry(kind).limits.get("needs") == "vae" and latents["kind"] != "vae":
        raise UserError(f"features {kind!r} need a VAE (log-variances); this run's model is an "
                        f"autoencoder: use --features mean")

    def get(name: str) -> np.ndarray:  # "all" = train rows then test rows
        if split == "all":
            return np.concatenate([latents[f"train_{name}"], latents[f"test_{name}"]])
        return latents[f"{split}_{name}"]

    mu = get("mean")
    logvar = get("logvar") if kind != "mean" else None
    if kind == "mean":
        return mu.astype(np.float32, copy=False)
    if kind == "mu+logvar":
        return np.concatenate([mu, logvar], axis=1).astype(np.float32)
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(mu.shape).astype(np.float32)  # (N, d)
    return (mu + np.exp(0.5 * logvar) * eps).astype(np.float32)


def describe_features(kind: str, latent_kind: str) -> str:
    """Words for outputs and figures: which features were analysed."""
    if kind == "mean":
        return "VAE means mu" if latent_kind == "vae" else "autoencoder codes z"
    return FEATURES.title(kind)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
