"""benchmarks/bench_judge.py: the epochs a folder's judge budget buys and what the judge is worth
(tiny: 64x64 colour images of four classes, two timed steps, one epoch)."""

from __future__ import annotations

import re

from bench_helpers import load_benchmark
from colour_data import write_colour_npz


def test_bench_judge_prints_the_ratio_the_budget_and_the_judges_figures(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LATENTATLAS_CACHE", str(tmp_path / "cache"))
    bench = load_benchmark("bench_judge")
    npz = write_colour_npz(tmp_path / "c.npz", n_train=64, n_test=16, size=64)
    assert bench.main(["--dataset", f"npz:{npz}", "--steps", "2", "--epochs", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "judge recipe colour-pooled-v1" in out
    assert re.search(r"an epoch's ratio \d+\.\d{3}", out) and re.search(r"buys \d+ judge epochs", out)
    assert re.search(r"judge after 1 epochs .* balanced accuracy \d\.\d{3} \(majority class \d\.\d{3}", out)
