"""Shared fixtures, and the slow marker set from measured times.

Full datasets come only through LATENTATLAS_DATA (CI sets it).

`slow` is not set by hand: tests/durations.json holds each test's measured seconds (setup, call
and teardown) from a full run on the 2-core reference machine, and every test at or over
SLOW_SECONDS there is marked slow at collection, so `make test-fast` (-m "not slow") runs the
quick ones. `make durations` measures them again (`--record-durations`); CI prints the slowest
(`--durations`) so growth is seen. A test not measured yet counts as fast until then.
"""

import json
import os
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
SLOW_SECONDS = 1.0


def pytest_addoption(parser):
    parser.addoption("--record-durations", action="store_true",
                     help=f"write each test's seconds to {DURATIONS.name} (the slow marker's source)")


def pytest_collection_modifyitems(config, items):
    measured = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}
    for item in items:
        if measured.get(item.nodeid, 0.0) >= SLOW_SECONDS:
            item.add_marker(pytest.mark.slow)


_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report):
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    config = session.config
    if config.getoption("--record-durations") and not hasattr(config, "workerinput"):   # xdist: the controller
        DURATIONS.write_text(json.dumps({k: round(v, 3) for k, v in sorted(_seconds.items())}, indent=0) + "\n")


@pytest.fixture(scope="session")
def full_data_dir() -> Path:
    root = os.environ.get("LATENTATLAS_DATA")
    if not root:
        pytest.skip("LATENTATLAS_DATA is not set: the full MNIST/Fashion-MNIST files are needed")
    return Path(root)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """One cache folder per test session, shared by its tests and by every xdist worker (each
    worker's basetemp, popen-gwN, sits in the session's folder), so a judge trained by one worker
    serves the others; never the user's ~/.cache. Entries are keyed by content and written
    atomically, so workers can share it; a test that needs an empty cache sets its own."""
    from cache_helpers import session_cache_dir

    monkeypatch.setenv("LATENTATLAS_CACHE", str(session_cache_dir(tmp_path_factory)))
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
