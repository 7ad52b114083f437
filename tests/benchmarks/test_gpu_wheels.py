"""benchmarks/gpu_wheels.py: which wheels travel to the bare GPU machine (resolved offline here)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bench_helpers import load_benchmark
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def _module():
    return load_benchmark("gpu_wheels")


def _wheel(folder: Path, name: str, requires: list[str]) -> Path:
    """A wheel holding only its METADATA, as pip downloads one."""
    path = folder / f"{name.replace('-', '_')}-1.0-py3-none-any.whl"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"] + [f"Requires-Dist: {r}" for r in requires]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name.replace('-', '_')}-1.0.dist-info/METADATA", "\n".join(meta) + "\n\nA description.\n"
                   "Requires-Dist: not-a-header-any-more\n")
    return path


def test_closure_follows_requirements_but_not_the_image_extras_or_backports(tmp_path):
    gw = _module()
    index = {
        "umap-learn": ["numba>=0.51", "pynndescent>=0.5", "tbb>=2019; platform_system == 'Windows'",
                       "pandas; extra == 'plot'"],
        "pynndescent": ["scikit-learn", "llvmlite"],
        "pythae": ["pydantic>=2.0", "dataclasses>=0.6", "pickle5; python_version == '3.7.*'"],
        "pydantic": ["pydantic-core==2.0", "typing-extensions"],
        "pydantic-core": [],
        "needs-old-python": ["tomli; python_version < '3.11'"],
    }
    fetched = []

    def fetch(req):
        fetched.append(canonicalize_name(req.name))
        return _wheel(tmp_path, req.name, index[canonicalize_name(req.name)])

    skip = {canonicalize_name(n) for n in gw.IMAGE.split() + sorted(gw.STDLIB_BACKPORTS)}
    roots = [Requirement(r) for r in ("umap-learn>=0.5", "pythae", "needs-old-python", "umap_learn")]
    wheels = gw.closure(roots, fetch, gw.target_environment("3.12"), skip)
    assert fetched == ["umap-learn", "pythae", "needs-old-python", "pynndescent", "pydantic", "pydantic-core"]
    assert len(wheels) == 6
    # the image's numba/scikit-learn/typing-extensions, Windows-only tbb, extras, the stdlib back-port
    # (it would shadow the standard library on PYTHONPATH) and a marker for older Pythons stay behind
    for name in ("numba", "scikit-learn", "llvmlite", "typing-extensions", "tbb", "pandas", "dataclasses",
                 "pickle5", "tomli"):
        assert name not in fetched


def test_the_roots_are_the_package_its_gpu_and_sweep_extras_and_pythae():
    gw = _module()
    names = {canonicalize_name(r.name) for r in gw.roots()}
    assert {"opentsne", "umap-learn", "plotly", "safetensors", "torchdr", "pythae", "torch", "ray", "optuna"} <= names


def test_pins_follow_this_environment_when_they_fit():
    gw = _module()
    from importlib import metadata

    here = metadata.version("numpy")
    assert gw.pinned(Requirement("numpy>=1.0"), newest=False) == f"numpy=={here}"
    assert gw.pinned(Requirement("numpy>=1.0"), newest=True) == "numpy>=1.0"
    assert gw.pinned(Requirement("numpy<1.0"), newest=False) == "numpy<1.0"     # installed one does not fit
    assert gw.pinned(Requirement("surely-not-installed-xyz>=2"), newest=False) == "surely-not-installed-xyz>=2"
