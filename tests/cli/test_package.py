"""A real package: `python -m build` makes an sdist and a wheel; the wheel, installed into a clean
virtual environment with no source tree around, runs the demo end to end from its own files."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import latentatlas

REPO = Path(__file__).resolve().parents[2]
TORCH = "torch==2.13.0"   # the build the Makefile installs; never an unpinned torch (GBs of CUDA)
PACKAGE_DATA = ("latentatlas/presets/demo.toml", "latentatlas/presets/sweeps/sweep-beta.toml", "latentatlas/data/sample/t10k-images-idx3-ubyte.gz",
                "latentatlas/data/sample/t10k-labels-idx1-ubyte.gz", "latentatlas/stages/report/report.css")


def test_the_version_is_written_once():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "latentatlas.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+)?", latentatlas.__version__)
    assert {"tensorboard", "mlflow", "wandb", "gpu", "test"} <= set(project["project"]["optional-dependencies"])


def _clean_env(**extra) -> dict:
    """The environment of a user with no checkout: no PYTHONPATH, no data folder of ours."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LATENTATLAS_DATA", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def dists(tmp_path_factory) -> dict:
    """sdist and wheel built from a copy of the source tree (the build writes build/ and *.egg-info)."""
    root = tmp_path_factory.mktemp("build")
    src = root / "src-copy"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".git", ".venv*", "runs", "build", "dist", "*.egg-info",
                                                             "__pycache__", ".pytest_cache", "test-artifacts"))
    out = root / "dist"
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=600, env=_clean_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"sdist": next(out.glob("*.tar.gz")), "wheel": next(out.glob("*.whl"))}


def _lend_torch(site: Path) -> None:
    """The torch build the user chose (the Makefile's TORCH_SPEC) and what it needs, linked from this
    interpreter into a fresh venv's site-packages: pip sees them installed, as after the user's own
    `pip install torch==...`, and the wheel's own dependencies still install from nothing. (Unpacking
    torch again costs most of a minute and tests nothing of ours.)"""
    from importlib.metadata import distribution
    from packaging.requirements import Requirement

    todo, seen = ["torch"], set()
    while todo:
        dist = distribution(todo.pop())
        name = dist.metadata["Name"].lower()
        if name in seen:
            continue
        seen.add(name)
        assert name != "torch" or dist.version.startswith(TORCH.split("==")[1]), dist.version
        for top in {Path(f.parts[0]) for f in dist.files or () if not f.parts[0].startswith("..")}:
            target = Path(dist.locate_file(top))
            if target.exists() and not (site / top).exists():
                (site / top).symlink_to(target)
        for req in map(Requirement, dist.requires or ()):
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)


@pytest.fixture(scope="session")
def installed(dists, tmp_path_factory) -> Path:
    """A fresh venv (no system site-packages) with torch and the wheel: its bin/ folder."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    venv.create(env_dir, with_pip=True, clear=True)
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    _lend_torch(site)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q", str(dists["wheel"])]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=1800, env=_clean_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return env_dir / "bin"


def test_the_sdist_and_the_wheel_carry_presets_sample_and_report_assets(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = tar.getnames()
    for path in PACKAGE_DATA:
        assert any(n.endswith("src/" + path) for n in names), path
    assert any(n.endswith("examples/quickstart.ipynb") for n in names)
    with zipfile.ZipFile(dists["wheel"]) as whl:
        names = whl.namelist()
        meta = whl.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for path in PACKAGE_DATA:
        assert path in names, path
    assert f"Version: {latentatlas.__version__}" in meta
    for extra in ("tensorboard", "mlflow", "wandb", "gpu", "test"):
        assert f"Provides-Extra: {extra}" in meta


def test_the_installed_wheel_runs_the_demo_outside_the_source_tree(installed, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = _clean_env(LATENTATLAS_CACHE=str(tmp_path / "cache"), MPLBACKEND="Agg", LATENTATLAS_NO_BAR="1")

    def call(*argv, timeout=900):
        proc = subprocess.run([str(a) for a in argv], cwd=work, capture_output=True, text=True, timeout=timeout,
                              env=env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout

    where = call(installed / "python", "-c", "import latentatlas; print(latentatlas.__file__)").strip()
    assert Path(where).is_relative_to(installed.parent) and not Path(where).is_relative_to(REPO)
    assert call(installed / "latentatlas", "--version").strip() == f"latentatlas {latentatlas.__version__}"
    assert "demo" in call(installed / "latentatlas", "run", "--list-presets").split()
    call(installed / "latentatlas", "run", "--preset", "demo", "--dataset", "mnist-sample", "--epochs", "1",
         "--max-train-images", "1000", "--projections", "pca:2,pca:3", "--probes", "logreg",
         "--clusterers", "kmeans", "--quality-max-samples", "500", "--raw-max-samples", "500",
         "--out", "runs/demo")
    run = work / "runs" / "demo"
    report = (run / "report.html").read_text()
    css = (Path(where).parent / "stages" / "report" / "report.css").read_text()
    assert css.strip()[:300] in report                            # the installed stylesheet, inlined
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["train"]["completed"] and "logreg" in metrics["probes"]
    # the embedded sample was read from the installed package, not from a checkout
    assert str(installed.parent) in metrics["data"]["source"], metrics["data"]["source"]
    assert json.loads((run / "run.json").read_text())["preset"] == "demo"
