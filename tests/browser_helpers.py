"""Headless Chromium for the tests that look at a page (the report, TensorBoard's Projector):
where it is, how it is started, and the DOM probes and screenshot of one page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

# Screenshots a person can look at after a run (ignored by git).
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


def _chromium_cmd(exe: str, profile: Path) -> list[str]:
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
            "--window-size=1400,1800", "--hide-scrollbars"]


def check_in_browser(report: Path, tmp_path: Path, screenshot_name: str) -> dict:
    """Open the report in headless Chromium: the rendered DOM's probes and a screenshot."""
    exe = _chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (`make test` installs Debian's chromium when run as root)")
    url = report.resolve().as_uri()
    dom = subprocess.run(_chromium_cmd(exe, tmp_path / "profile-dom") + ["--dump-dom", url],
                         capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html_tag = re.search(r"<html[^>]*>", dom.stdout)
    assert html_tag, dom.stdout[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', html_tag.group(0)))
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / screenshot_name
    res = subprocess.run(_chromium_cmd(exe, tmp_path / "profile-shot") + [f"--screenshot={shot}", url],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0 and shot.is_file() and shot.stat().st_size > 10_000, res.stderr[-2000:]
    return {"attrs": attrs, "dom": dom.stdout, "screenshot": shot}
