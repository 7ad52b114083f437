"""What the sweep tests share: the tiniest trial settings, and Ray kept out of $HOME.

    with ray_env(monkeypatch_context) as ray_tmp:   # RAY_TMPDIR short, a token in the environment
        run_sweep(out, sweep_spec(GRID), preset="default-vae", tables=[TINY], ...)
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from pathlib import Path

# One token per process: Ray's core keeps the first token it read for the whole process, so a second
# cluster started with another one in the same pytest worker fails to reach its own GCS.
RAY_TOKEN = secrets.token_hex(16)

TINY = {
    "data": {"name": "mnist-sample", "test_fraction": 0.05},
    "model": {"name": "vae"},
    "train": {"epochs": 1, "max_train_images": 300, "progress_images": 16, "progress_every": 0},
    "analysis": {"projections": ["pca:2"], "probes": ["logreg"], "clusterers": ["kmeans"], "raw_baseline": False,
                 "interactive": False, "n_init": 1, "quality_max_samples": 200, "projection_max_samples": 1000,
                 "cluster_split": "test"},
    "generate": {"samplers": ["gaussian"], "judge": False, "tour": False, "traverse": False, "n_per_class": 2,
                 "steps": 2, "manifold_n": 2},
}


@contextlib.contextmanager
def ray_env(mp, cache_dir):
    """Ray's temp files in a short folder of /tmp (its socket paths must stay short), its token in
    the environment (else Ray writes ~/.ray/auth_token), no RAY_ADDRESS; yields the temp folder."""
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    mp.setenv("RAY_TMPDIR", ray_tmp)
    mp.setenv("RAY_AUTH_TOKEN", RAY_TOKEN)
    mp.setenv("LATENTATLAS_CACHE", str(cache_dir))
    mp.setenv("MPLBACKEND", "Agg")
    mp.delenv("RAY_ADDRESS", raising=False)
    try:
        yield ray_tmp
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def processes_using(path) -> list[int]:
    """The pids whose command line or environment names `path`: Ray's processes name their session
    folder, and its workers (retitled "ray::...") keep RAY_TMPDIR in their environment."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if any(str(path).encode() in (proc / part).read_bytes() for part in ("cmdline", "environ")):
                out.append(int(proc.name))
        except OSError:
            continue
    return out


def report_links(html: str, names) -> list[str]:
    """The trials among `names` whose report sweep.html links."""
    return [n for n in names if f'href="trials/{n.replace("=", "%3D")}/report.html"' in html]
