"""Shared fixtures. Full datasets come only through LATENTATLAS_DATA (CI sets it)."""

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def full_data_dir() -> Path:
    root = os.environ.get("LATENTATLAS_DATA")
    if not root:
        pytest.skip("LATENTATLAS_DATA is not set: the full MNIST/Fashion-MNIST files are needed")
    return Path(root)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """One cache folder per test session (shared by its tests); never the user's ~/.cache."""
    monkeypatch.setenv("LATENTATLAS_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> dict:
    """{"ae": Path, "vae": Path}: runs trained for 1 epoch on 2000 images of the embedded
    "mnist-sample" (a few seconds each). Shared by the whole session: do not modify them;
    copy a run (shutil.copytree) before a test writes into it."""
    from latentatlas.settings import DataConfig, ModelConfig, TrainConfig
    from latentatlas.stages.train import train_run

    root = tmp_path_factory.mktemp("tiny_runs")
    runs = {}
    for kind, latent in (("ae", 8), ("vae", 4)):
        path = root / kind
        train_run(path, DataConfig(name="mnist-sample"), ModelConfig(name=kind, latent_dim=latent),
                  TrainConfig(epochs=1, batch_size=64, max_train_images=2000, seed=0, progress_images=16,
                              threads=1))
        runs[kind] = path
    return runs
