"""Where the test session's cache lives (the conftest's autouse fixture points LATENTATLAS_CACHE
there): one folder for the session, shared by every xdist worker."""

from __future__ import annotations

import os
from pathlib import Path


def session_cache_dir(tmp_path_factory) -> Path:
    """Each xdist worker's basetemp (popen-gwN) sits in the session's folder: the cache goes there."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "cache"
