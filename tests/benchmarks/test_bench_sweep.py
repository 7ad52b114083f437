"""benchmarks/bench_sweep.py's figure from the trials' records (issue 27): the trials' phase over
the ideal, and where the rest went, on a timeline made up here so every number is known."""

from __future__ import annotations

import sys
import types

import pytest
from bench_helpers import load_benchmark


def _bench():
    return load_benchmark("bench_sweep")


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


def test_packing_is_trials_per_minute_of_each_phase_and_says_unmeasured_without_a_gpu(monkeypatch, capsys):
    bench = _bench()
    # four trials packed end at t=130 (Ray ready at 100): 8/min; alone the last ends at 220: 2/min
    packed = bench.trials_per_minute([{"ended_at": 115.0 + 5 * i} for i in range(4)], ready_at=100.0)
    alone = bench.trials_per_minute([{"ended_at": 160.0 + 20 * i} for i in range(4)], ready_at=100.0)
    assert packed == pytest.approx(8.0) and alone == pytest.approx(2.0)
    line = bench.packing_line(packed, alone, trials=4)
    assert line.endswith("8.0 trials/min packed, 2.0 trials/min one at a time, ratio 4.00x"), line
    # a torch without CUDA (the real one's import alone takes seconds)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False)))
    assert bench.main(["--packing", "--trials", "8"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["packing (8 trials, 0.25 vs 1 GPU per trial): unmeasured (no GPU)"], out
