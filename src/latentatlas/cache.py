"""Where latentatlas keeps things between runs (downloads, the judge classifier)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$LATENTATLAS_CACHE, else $XDG_CACHE_HOME/latentatlas, else ~/.cache/latentatlas."""
    env = os.environ.get("LATENTATLAS_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "latentatlas"
