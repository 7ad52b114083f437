"""benchmarks/bench_sweep.py's figure from the trials' records (issue 27): the trials' phase over
the ideal, and where the rest went, on a timeline made up here so every number is known."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_sweep", ROOT / "benchmarks" / "bench_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_figure_is_the_phase_from_ray_ready_over_the_summed_cpu_time_per_core():
    bench = _bench()
    # Ray ready at t=100; two workers (pids 1, 2) start 2 s later; each runs two trials back to back
    records = [{"pid": 1, "started_at": 102.0, "ended_at": 110.0, "seconds": 8.0, "cpu_seconds": 7.0},
               {"pid": 1, "started_at": 110.0, "ended_at": 114.0, "seconds": 4.0, "cpu_seconds": 3.0},
               {"pid": 2, "started_at": 102.0, "ended_at": 109.0, "seconds": 7.0, "cpu_seconds": 6.0},
               {"pid": 2, "started_at": 109.0, "ended_at": 112.0, "seconds": 3.0, "cpu_seconds": 2.0}]
    t = bench.timeline(records, {"ready_at": 100.0}, cores=2, watch=None)
    assert t["cpu"] == 18.0 and t["ideal"] == 9.0 and t["phase"] == 14.0
    assert t["ratio"] == pytest.approx(14.0 / 9.0) and t["ratio_first"] == pytest.approx(12.0 / 9.0)
    assert t["first"] == 2.0 and t["idle"] == 28.0 - 22.0 and t["wait"] == 22.0 - 18.0
    assert t["imports"] == pytest.approx(4.0) and t["workers"] == 2      # 7-3 and 6-2: the first trials' extra
    assert "others" not in t                                             # no watch: no machine figures


def test_the_machine_s_other_work_is_its_busy_time_less_the_sweep_s_processes():
    bench = _bench()

    class Samples:                     # (time, the machine's busy CPU s, the sweep tree's CPU s)
        samples = [(100.0, 1000.0, 50.0), (114.0, 1020.0, 68.0)]

        def between(self, t0, t1):
            return bench.Watch.between(self, t0, t1)

    records = [{"pid": 1, "started_at": 100.0, "ended_at": 114.0, "seconds": 14.0, "cpu_seconds": 14.0}]
    t = bench.timeline(records, {"ready_at": 100.0}, cores=2, watch=Samples())
    assert t["others"] == 2.0 and t["ours_outside"] == 4.0       # 20 busy = 18 of the sweep's + 2 others'
    assert t["left"] == 26.0 and t["ratio_left"] == pytest.approx(26.0 / 14.0)
