"""Cores this process may use: affinity and cgroup quotas respected; every pool told."""

from __future__ import annotations

import os

import pytest

from latentatlas import cores


def _cgroup(tmp_path, v2=None, v1=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    if v2 is not None:
        (tmp_path / "cpu.max").write_text(v2 + "\n")
    if v1 is not None:
        (tmp_path / "cpu").mkdir()
        (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text(f"{v1[0]}\n")
        (tmp_path / "cpu" / "cpu.cfs_period_us").write_text(f"{v1[1]}\n")
    return tmp_path


def test_cgroup_v2_and_v1_quotas(tmp_path):
    assert cores.cgroup_quota(_cgroup(tmp_path / "a", v2="150000 100000")) == 1.5
    assert cores.cgroup_quota(_cgroup(tmp_path / "b", v2="max 100000")) is None
    assert cores.cgroup_quota(_cgroup(tmp_path / "c", v1=(200000, 100000))) == 2.0
    assert cores.cgroup_quota(_cgroup(tmp_path / "d", v1=(-1, 100000))) is None
    assert cores.cgroup_quota(tmp_path / "none") is None


def test_usable_cores_is_the_affinity_capped_by_the_quota(tmp_path, monkeypatch):
    monkeypatch.setattr(cores, "_affinity_count", lambda: 16)
    assert cores.usable_cores(_cgroup(tmp_path / "a", v2="max 100000")) == 16
    assert cores.usable_cores(_cgroup(tmp_path / "b", v2="250000 100000")) == 3  # 2.5 CPUs: 3 threads
    assert cores.usable_cores(_cgroup(tmp_path / "c", v2="50000 100000")) == 1
    monkeypatch.setattr(cores, "_affinity_count", lambda: 2)
    assert cores.usable_cores(_cgroup(tmp_path / "d", v2="800000 100000")) == 2


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this OS")
def test_a_narrowed_affinity_is_seen(tmp_path):
    import subprocess
    import sys

    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "from latentatlas.cores import usable_cores, resolve_jobs; print(usable_cores(), resolve_jobs(None), "
            "resolve_jobs(3))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["1", "1", "3"]


def test_thread_limits_sets_and_restores_every_pool():
    import numba
    import torch
    from threadpoolctl import threadpool_info

    before_torch, before_numba = torch.get_num_threads(), numba.get_num_threads()
    with cores.thread_limits(1):
        assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert (torch.get_num_threads(), numba.get_num_threads()) == (before_torch, before_numba)
