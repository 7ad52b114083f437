"""A sweep killed outright (SIGKILL to its process group) once a trial has finished, and the same
command again: the finished trials are kept as they were (their records and weights untouched),
the others run, the report lists them all, and no Ray process of the killed sweep stays behind."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cache_helpers import session_cache_dir
from sweep_helpers import TINY, processes_using, ray_env, report_links

pytest.importorskip("ray.tune")

from latentatlas.sweeps import SWEEP_REPORT, SweepFolder  # noqa: E402

NAMES = ["latent_dim=2", "latent_dim=3", "latent_dim=4"]


def _toml(tables: dict) -> str:
    """The sweep's file: its grid, and TINY's tables (numbers, strings, booleans, lists: written as JSON
    writes them, which TOML reads alike)."""
    lines = ['[sweep]\n[sweep.grid]\n"model.latent_dim" = [2, 3, 4]\n']
    for section, table in tables.items():
        lines.append(f"[{section}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items()))
    return "\n".join(lines)


def _finished(folder: SweepFolder) -> list[str]:
    return [n for n in NAMES if (folder.read_record(n) or {}).get("status") == "ok"]


def _wait_gone(ray_tmp: str, seconds: float = 30) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_using(ray_tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_a_sweep_killed_with_sigkill_resumes_keeping_its_finished_trials(tmp_path, tmp_path_factory):
    config = tmp_path / "sweep.toml"
    config.write_text(_toml(TINY))
    out = tmp_path / "sw"
    src = str(Path(__file__).resolve().parents[2] / "src")
    command = [sys.executable, "-m", "latentatlas", "sweep", "--config", str(config), "--out", str(out),
               "--cpus-per-trial", "1"]
    folder = SweepFolder(out)
    with pytest.MonkeyPatch.context() as mp, ray_env(mp, session_cache_dir(tmp_path_factory)) as ray_tmp:
        mp.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
        first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 240
        while not _finished(folder) and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(30)
        assert first.returncode == -signal.SIGKILL, first.stderr.read().decode()[-2000:]
        # Ray's processes share the driver's fate (a worker may first end the trial it was running)
        assert _wait_gone(ray_tmp) == []
        kept = _finished(folder)
        assert 1 <= len(kept) < len(NAMES)                  # killed half-way: one or two trials done
        before = {n: (folder.record_path(n).stat().st_mtime_ns, folder.read_record(n),
                      (folder.trial_dir(n) / "model.safetensors").stat().st_mtime_ns) for n in kept}

        again = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert _wait_gone(ray_tmp) == []
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(kept)} finished before (reused), {len(NAMES) - len(kept)} to run" in again.stderr
    after = {n: (folder.record_path(n).stat().st_mtime_ns, folder.read_record(n),
                 (folder.trial_dir(n) / "model.safetensors").stat().st_mtime_ns) for n in kept}
    assert after == before                                  # not trained again: same record, same weights
    records = {n: folder.read_record(n) for n in NAMES}
    assert all(r["status"] == "ok" for r in records.values())
    ran_again = {records[n]["pid"] for n in NAMES if n not in kept}
    assert not ran_again & {before[n][1]["pid"] for n in kept}      # the rest ran in the second sweep's workers
    html = (out / SWEEP_REPORT).read_text()
    assert report_links(html, NAMES) == NAMES
    assert [t["name"] for t in json.loads((out / "sweep.json").read_text())["trials"]] == NAMES
