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
