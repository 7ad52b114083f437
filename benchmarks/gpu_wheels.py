"""The wheels that benchmarks/gpu_check.sh needs on a bare CUDA machine, downloaded here.

    python benchmarks/gpu_wheels.py                     # into ../wheels, for Python 3.12 on x86-64 Linux
    python benchmarks/gpu_wheels.py --dest .whl --python-version 3.12

The GPU machine the speed issue is checked on has python3 with torch, numpy, scipy, scikit-learn,
matplotlib, numba, pillow and more (IMAGE below), and no network. latentatlas also needs openTSNE,
umap-learn, plotly, ...; the torch backend TorchDR; the sweeps Ray Tune; the Pythae comparison
Pythae. This script downloads, on a machine with PyPI, a wheel for each of those and for each of
their requirements that the image lacks (resolved recursively from the wheels' own metadata for
the target Python), into the folder gpu_check.sh installs from (`pip install --no-index --no-deps
--target`).

Versions: by default each package at the version installed beside this script's interpreter (the
one the test suite ran with), else the newest that fits; --newest takes the newest everywhere.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

try:
    import tomllib                                  # Python 3.11+
except ModuleNotFoundError:                         # 3.10: the same parser, as a package
    import tomli as tomllib

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

# What the machine's image already holds (the device tool's KINDS.md, nvidia-h200, read on
# 2026-11-17). Their wheels must not travel: a second numpy or torch on PYTHONPATH would shadow
# the image's CUDA build.
IMAGE = """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
humanize huggingface-hub hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt
jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities
linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes
mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba
numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse
nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx
onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix
orbax-checkpoint packaging pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client
propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions
pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist python-dateutil
pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl
tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics
torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop
wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
"""
# Back-ports of the standard library that some packages require without a marker (Pythae asks
# for `dataclasses>=0.6`): on PYTHONPATH they come before the standard library and break it.
STDLIB_BACKPORTS = {"dataclasses", "pickle5", "typing", "enum34", "futures"}

PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64", "linux_x86_64")


def roots() -> list[Requirement]:
    """latentatlas's dependencies, its `gpu` extra (TorchDR), its `sweep` extra (Ray Tune, Optuna: the
    sweep packing row; ray[tune]'s own extras, pandas, pyarrow, fsspec, requests, are in the image)
    and Pythae (the comparison)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    specs = project["dependencies"] + extras["gpu"] + extras["sweep"] + ["pythae"]
    return [Requirement(s) for s in specs]


def target_environment(python_version: str) -> dict:
    env = default_environment()
    env.update(python_version=python_version, python_full_version=f"{python_version}.0",
               sys_platform="linux", platform_system="Linux", platform_machine="x86_64",
               os_name="posix", implementation_name="cpython", platform_python_implementation="CPython")
    return env


def pinned(req: Requirement, newest: bool) -> str:
    """The requirement as pip takes it: at the version installed here when that one fits."""
    if not newest:
        try:
            here = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            here = None
        if here and req.specifier.contains(here, prereleases=True):
            return f"{req.name}=={here}"
    return f"{req.name}{req.specifier}"


def download(spec: str, dest: Path, python_version: str) -> Path:
    """One wheel, no dependencies, for the target Python and platform; its path."""
    before = set(dest.glob("*.whl"))
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "--python-version", python_version, "--implementation", "cp", "-d", str(dest)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    res = subprocess.run(cmd + [spec], capture_output=True, text=True)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["pip failed"])[-1]
        sys.exit(f"gpu_wheels: no wheel of {spec} for Python {python_version} on x86-64 Linux: {last}")
    new = set(dest.glob("*.whl")) - before
    name = canonicalize_name(Requirement(spec).name)
    found = new or {w for w in dest.glob("*.whl") if canonicalize_name(w.name.split("-")[0]) == name}
    return sorted(found)[0]


def requirements(wheel: Path, env: dict) -> list[Requirement]:
    """Requires-Dist of a wheel that apply to the target environment (no extras)."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode("utf-8", "replace").splitlines()
    out = []
    for line in lines:
        if line == "":
            break                 # the headers end at the first empty line
        if line.startswith("Requires-Dist:"):
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
                out.append(req)
    return out


def closure(reqs: list[Requirement], fetch, env: dict, skip: set[str]) -> list[Path]:
    """The wheels of `reqs` and of everything they require in `env`, but for the names in
    `skip` (the image's packages and the back-ports): `fetch(requirement)` gives one wheel."""
    queue, done, wheels = list(reqs), set(), []
    while queue:
        req = queue.pop(0)
        name = canonicalize_name(req.name)
        if name in skip or name in done:
            continue
        done.add(name)
        wheels.append(fetch(req))
        queue += requirements(wheels[-1], env)
    return wheels


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dest", type=Path, default=ROOT.parent / "wheels",
                    help="folder for the wheels (default: ../wheels beside the checkout, where gpu_check.sh looks)")
    ap.add_argument("--python-version", default="3.12", help="the GPU machine's Python (default 3.12)")
    ap.add_argument("--newest", action="store_true", help="newest fitting versions, not the ones installed here")
    args = ap.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    skip = {canonicalize_name(n) for n in IMAGE.split() + sorted(STDLIB_BACKPORTS) + ["latentatlas"]}

    def fetch(req: Requirement) -> Path:
        wheel = download(pinned(req, args.newest), args.dest, args.python_version)
        print(f"  {wheel.name}", flush=True)
        return wheel

    closure(roots(), fetch, target_environment(args.python_version), skip)
    wheels = sorted(args.dest.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels) / 2**20
    print(f"gpu_wheels: {len(wheels)} wheels, {size:.1f} MiB, in {args.dest} (Python {args.python_version}, "
          "x86-64 Linux); gpu_check.sh installs them from there (or set GPU_CHECK_WHEELS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
