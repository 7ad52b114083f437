"""Shared fixtures, and the slow marker set from measured times.

Full datasets come only through LATENTATLAS_DATA (CI sets it).

`slow` is not set by hand: tests/durations.json holds each test's measured seconds (setup, call
and teardown) and each module or session fixture's build seconds, from a full run on the 2-core
reference machine; every test at or over SLOW_SECONDS (tests/measured_order.py) there, or needing a fixture that took that
long to build, is marked slow at collection, so `make test-fast` (-m "not slow") runs the quick
ones. `make durations` measures them again (`--record-durations`); CI prints the slowest
(`--durations`) so growth is seen. A test not measured yet counts as fast until then.
"""

import json
import os
import time
from pathlib import Path

import pytest
from measured_order import read_measured, is_slow

DURATIONS = Path(__file__).with_name("durations.json")


def pytest_addoption(parser):
    parser.addoption("--record-durations", action="store_true",
                     help=f"write each test's seconds to {DURATIONS.name} (the slow marker's source)")


def _measured() -> dict[str, dict[str, float]]:
    return read_measured(DURATIONS)


@pytest.hookimpl(tryfirst=True, optionalhook=True)   # optional: -p no:xdist runs need no scheduler
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile hands out the longest files first (tests/measured_order.py)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from measured_order import LongestFileFirst

    return LongestFileFirst(config, log, _measured()["tests"])


def pytest_collection_modifyitems(config, items):
    measured = _measured()                  # slow: see tests/measured_order.py
    for item in items:
        if is_slow(item.nodeid, item.fixturenames, measured):
            item.add_marker(pytest.mark.slow)


_seconds: dict[str, float] = {}
_fixture_seconds: dict[str, float] = {}


class _FixtureClock:
    """Times each module or session fixture's build and hands it, with the setup report, to xdist's
    controller (user_properties travel there). A plugin, not conftest hooks: a session fixture's
    hooks are the session's, above this folder, where conftest hooks are not called."""

    def __init__(self):
        self.built_now: dict[str, float] = {}     # for the test being set up

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        if fixturedef.scope == "function":        # built for each test: already in its own seconds
            return (yield)
        t0 = time.perf_counter()
        try:
            return (yield)
        finally:
            self.built_now[fixturedef.argname] = self.built_now.get(fixturedef.argname, 0.0) + time.perf_counter() - t0

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if call.when == "setup" and self.built_now:
            report.user_properties.append(("fixture_seconds", dict(self.built_now)))
            self.built_now.clear()
        return report


def pytest_configure(config):
    if config.getoption("--record-durations"):
        config.pluginmanager.register(_FixtureClock(), "latentatlas-fixture-clock")


def pytest_runtest_logreport(report):
    _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration
    for key, value in report.user_properties:
        if key == "fixture_seconds":
            for name, s in value.items():
                _fixture_seconds[name] = max(_fixture_seconds.get(name, 0.0), s)


def pytest_sessionfinish(session):
    config = session.config
    if config.getoption("--record-durations") and not hasattr(config, "workerinput"):   # xdist: the controller
        data = {"tests": {k: round(v, 3) for k, v in sorted(_seconds.items())},
                "fixtures": {k: round(v, 3) for k, v in sorted(_fixture_seconds.items())}}
        DURATIONS.write_text(json.dumps(data, indent=0) + "\n")


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
