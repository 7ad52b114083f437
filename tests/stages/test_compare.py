"""`latentatlas compare`: headline figures read from each run's metrics.json; missing ones as a dash."""

from __future__ import annotations


import pytest

from latentatlas.cli import main
from latentatlas.stages.compare import DASH, compare_runs, format_table, headline
from latentatlas.rundir import RunDir, atomic_write_json


def _run(path, metrics: dict, config: dict | None = None):
    run = RunDir(path).ensure()
    atomic_write_json(run / "metrics.json", metrics)
    atomic_write_json(run / "config.json", config or {"data": {"name": "mnist"}, "model": {"name": "vae"}})
    return run.path


@pytest.fixture
def two_runs(tmp_path):
    full = _run(tmp_path / "full", {
        "train": {"model": "vae", "latent_dim": 10, "epochs": 5, "seconds": 123.456, "test_loss": 99.8765,
                  "test_mse": 0.0123456},
        "probes": {"svm": {"accuracy": 0.9712}, "knn": {"accuracy": 0.9655}},
        "clustering": {"gmm": {"accuracy": 0.8123}, "n2d": {"accuracy": 0.9701}},
        "judge": {"samplers": {"class-gaussian": {"fidelity": 0.9611, "fd": 12.5},
                               "gmm": {"fd": 9.25}, "gaussian": {"fd": 30.0}}},
    })
    bare = _run(tmp_path / "bare", {"train": {"model": "ae", "latent_dim": 7, "epochs": 1}})
    return full, bare


def test_headline_reads_metrics(two_runs):
    full, bare = two_runs
    h = headline(full)
    assert h["probe_accuracy"] == 0.9712 and h["probe"] == "svm"
    assert h["cluster_accuracy"] == 0.9701 and h["clusterer"] == "n2d"
    assert h["fidelity"] == 0.9611 and h["fd"] == 9.25 and h["fd_sampler"] == "gmm"
    b = headline(bare)
    assert b["probe_accuracy"] is None and b["fd"] is None and b["model"] == "ae"


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_table_formats(two_runs, fmt):
    text = format_table(compare_runs(list(two_runs)), fmt)
    assert "0.9712" in text and "99.88" in text and "123.5" in text and "9.25" in text
    assert DASH in text  # the bare run's missing figures
    if fmt == "markdown":
        assert text.splitlines()[1].startswith("|---")
    if fmt == "html":
        assert text.startswith("<table>") and "<td>0.9712</td>" in text


def test_compare_command(two_runs, tmp_path, capsys):
    out = tmp_path / "table.md"
    assert main(["compare", *map(str, two_runs), "--format", "markdown", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| full |" in printed and "| bare |" in printed
    assert out.read_text().strip() == printed.strip()


def test_compare_not_a_run(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    assert main(["compare", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a latentatlas run" in err and len(err.splitlines()) == 1
