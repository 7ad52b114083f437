"""`latentatlas sweep --scheduler asha` (issue 27): ASHA stops a trial whose test loss after epoch 1
trails the one before it, from inside the trial; the trial is recorded as stopped (sweep.json's
records, sweep.html) and kept when the sweep runs again.

Two trials one after another (each asks for every core Ray has), 2 epochs on 300 images of the
embedded "mnist-sample": a learning rate that trains, then one that cannot (1e-9); ASHA judges
after epoch 1 and the second is worse than the first was there.
"""

import copy

import pytest
from cache_helpers import session_cache_dir
from sweep_helpers import TINY, ray_env

pytest.importorskip("ray.tune")

from latentatlas.runtime import usable_cores  # noqa: E402
from latentatlas.sweeps import SWEEP_REPORT, SweepFolder, run_sweep, sweep_spec  # noqa: E402


def test_asha_stops_the_worse_trial_records_it_and_keeps_it_on_resume(tmp_path, tmp_path_factory):
    tables = copy.deepcopy(TINY)
    tables["train"].update(epochs=2, schedule="none")
    spec = sweep_spec({"train.lr": [0.005, 1e-9]})
    out = tmp_path / "sw"
    with pytest.MonkeyPatch.context() as mp, ray_env(mp, session_cache_dir(tmp_path_factory)):
        kw = {"preset": "default-vae", "tables": [tables], "cpus_per_trial": usable_cores(), "scheduler": "asha",
              "quiet": True}
        summary = run_sweep(out, spec, **kw)
        good, bad = list(summary["trials"])
        assert summary["trials"] == {good: "ok", bad: "stopped"}, summary["trials"]
        record = SweepFolder(out).read_record(bad)
        assert record["error"] is None and record["note"].startswith("stopped early by ASHA after epoch 1"), record
        assert SweepFolder(out).read_sweep()["scheduler"] == "asha"
        html = (out / SWEEP_REPORT).read_text()
        assert 'class="stopped"' in html and "stopped early by ASHA after epoch 1" in html
        again = run_sweep(out, spec, **kw)          # resumed: the stopped trial is finished, not failed
    assert again["ran"] == [] and sorted(again["reused"]) == sorted([good, bad]) and again["ray"] is None
    assert again["trials"] == summary["trials"]
