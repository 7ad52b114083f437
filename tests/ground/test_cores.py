"""Cores this process may use: affinity and cgroup quotas respected; every pool told."""

from __future__ import annotations

import os

import pytest

from latentatlas.runtime import threads as cores


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
            "from latentatlas.runtime import usable_cores, resolve_jobs; print(usable_cores(), resolve_jobs(None), "
            "resolve_jobs(1))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["1", "1", "1"]


def test_thread_limits_sets_and_restores_every_pool():
    import numba
    import torch
    from threadpoolctl import threadpool_info

    before_torch, before_numba = torch.get_num_threads(), numba.get_num_threads()
    with cores.thread_limits(1):
        assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert (torch.get_num_threads(), numba.get_num_threads()) == (before_torch, before_numba)


def test_thread_limits_reach_the_pools_a_fresh_process_loads_later():
    """`latentatlas analyze` enters the limits before anything imports NumPy, SciPy or
    scikit-learn: their BLAS and OpenMP pools must be limited all the same."""
    import subprocess
    import sys

    code = ("from latentatlas.runtime import thread_limits\n"
            "with thread_limits(1):\n"
            "    import sklearn.cluster, scipy.linalg\n"
            "    from threadpoolctl import threadpool_info\n"
            "    print(sorted({(p['internal_api'], p['num_threads']) for p in threadpool_info()}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    pools = eval(out)
    assert {api for api, _ in pools} >= {"openblas", "openmp"} and all(n == 1 for _, n in pools), pools


def test_resolve_jobs_refuses_zero_and_more_than_the_usable_cores(monkeypatch):
    from latentatlas.errors import UserError

    monkeypatch.setattr(cores, "usable_cores", lambda root=None: 4)
    assert cores.resolve_jobs(None) == 4 and cores.resolve_jobs(4) == 4 and cores.resolve_jobs(1) == 1
    with pytest.raises(UserError, match="only 4 cores"):
        cores.resolve_jobs(5)
    for bad in (0, -1):
        with pytest.raises(UserError, match="at least 1"):
            cores.resolve_jobs(bad)


@pytest.mark.parametrize("jobs, needle", [("0", "n_jobs must be at least 1"), ("100000", "cores")])
def test_analyze_jobs_out_of_range_is_one_line_exit_2(tmp_path, capsys, jobs, needle):
    from cli_helpers import assert_one_line_error, run_cli, snapshot

    (tmp_path / "run").mkdir()
    before = snapshot(tmp_path)
    rc, _, err = run_cli(capsys, "analyze", tmp_path / "run", "--jobs", jobs)
    assert_one_line_error(rc, err, needle)
    assert snapshot(tmp_path) == before                      # nothing written


def test_run_refuses_jobs_over_the_cores_before_training(tmp_path, capsys):
    """`run --jobs` beyond the usable cores fails at once: no folder, no minutes of training first."""
    from cli_helpers import assert_one_line_error, run_cli

    out = tmp_path / "run"
    rc, _, err = run_cli(capsys, "run", "--dataset", "mnist-sample", "--out", out, "--jobs", "100000")
    assert_one_line_error(rc, err, "cores")
    assert not out.exists()


def test_training_and_the_judge_put_torchs_thread_count_back(tmp_path):
    """A notebook's torch keeps its thread count after la.train / the judge chose their own."""
    import torch

    from latentatlas.cli import main
    from latentatlas.data import load_dataset
    from latentatlas.estimators.classifier import train_judge

    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    torch.set_num_threads(other)
    try:
        assert main(["train", "--dataset", "mnist-sample", "--max-train-images", "256", "--epochs", "1",
                     "--threads", str(3 - other), "--out", str(tmp_path / "run"), "--progress-every", "0"]) == 0
        assert torch.get_num_threads() == other
        ds = load_dataset("mnist-sample")
        train_judge(ds, epochs=1, threads=3 - other, progress=False)
        assert torch.get_num_threads() == other
    finally:
        torch.set_num_threads(before)
