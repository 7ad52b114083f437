"""The sweep's checks, each one line, before Ray starts (no Ray here: these run in milliseconds)."""

import socket

import pytest

from latentatlas.errors import UserError
from latentatlas.sweeps import SweepFolder, parse_grid_options, plan_trials, sweep_source, sweep_spec
from latentatlas.sweeps.engine import check_reachable, check_resources
from latentatlas.sweeps.grid import grid_points, trial_name
from latentatlas.sweeps.trial import one_line


def spec_of(*items, seeds=1):
    return sweep_spec(text_grid=parse_grid_options(list(items)), seeds=seeds)


def test_a_grid_is_every_combination_with_its_seeds_named_by_its_settings():
    spec = spec_of("model.latent_dim=2,4,8", "model.beta=0.5,1", seeds=2)
    points = grid_points(spec)
    assert len(points) == 12
    assert points[0] == {"model.latent_dim": 2, "model.beta": 0.5, "train.seed": 0}
    assert trial_name(points[0]) == "latent_dim=2_beta=0.5_seed=0"
    assert len({trial_name(p) for p in points}) == 12
    assert trial_name({"model.name": "vae", "data.name": "mnist"}) == "model=vae_data=mnist"


def test_a_field_name_that_one_stage_has_is_a_key_and_values_take_its_type():
    spec = spec_of("latent_dim=2,4", "amp=true,false")
    assert spec.grid == {"model.latent_dim": [2, 4], "train.amp": [True, False]}


@pytest.mark.parametrize("items, words", [
    (["model.latnt_dim=2,4"], ["unknown grid key 'model.latnt_dim'", "did you mean 'model.latent_dim'",
                               "model.beta", "model.name"]),
    (["nonsense.key=1,2"], ["unknown grid key", "data.name", "train.epochs", "analysis.probes"]),
    (["model.latent_dim="], ["model.latent_dim has no values"]),
    (["model.latent_dim"], ["write KEY=V1,V2"]),
    (["model.latent_dim=8"], ["the grid has one point (model.latent_dim=8)"]),
    (["model.latent_dim=2,four"], ["'four' is not an integer", "model.latent_dim"]),
    (["model.beta=0.5,big"], ["'big' is not a number"]),
    (["model.channels=32,64"], ["list setting"]),
    (["seed=1,2"], ["several stages", "train.seed", "generate.seed"]),
    (["model.latent_dim=2,2"], ["repeats a value"]),
])
def test_a_bad_grid_is_refused_in_one_line(items, words):
    with pytest.raises(UserError) as err:
        spec_of(*items)
    text = str(err.value)
    assert "\n" not in text
    for word in words:
        assert word in text


def test_an_empty_grid_and_bad_seeds_are_refused():
    with pytest.raises(UserError, match="the grid is empty"):
        sweep_spec({}, 1)
    with pytest.raises(UserError, match="--seeds 0"):
        sweep_spec({"model.latent_dim": [2, 4]}, 0)
    with pytest.raises(UserError, match="use one of the two"):
        sweep_spec({"train.seed": [1, 2]}, 3)


def test_a_refused_value_is_that_trial_s_failure_and_the_others_resolve_frozen():
    spec = spec_of("model.latent_dim=2,0")
    ok, bad = plan_trials(spec, "default-vae")
    assert ok.config.model.latent_dim == 2 and ok.error is None
    assert bad.config is None and "latent size must be at least 1" in bad.error
    with pytest.raises(Exception):              # frozen
        ok.config.model.latent_dim = 3
    assert ok.config_hash != plan_trials(spec_of("model.latent_dim=2,3"), "default-ae")[0].config_hash


def test_a_config_file_s_sweep_section_and_the_command_line(tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text('[sweep]\nseeds = 2\n[sweep.grid]\n"model.latent_dim" = [2, 4]\n[sweep.grid.model]\n'
                    'beta = [0.5, 1.0]\n[data]\nname = "mnist-sample"\n[train]\nepochs = 1\n')
    source = sweep_source(None, path)
    assert source.sweep["grid"] == {"model.latent_dim": [2, 4], "model.beta": [0.5, 1.0]}
    assert source.tables == [{"data": {"name": "mnist-sample"}, "train": {"epochs": 1}}]
    spec = sweep_spec(source.sweep["grid"], source.sweep["seeds"], parse_grid_options(["model.latent_dim=8,16"]))
    assert spec.grid["model.latent_dim"] == [8, 16] and spec.seeds == 2
    trials = plan_trials(spec, source.preset, source.tables)
    assert {t.config.train.epochs for t in trials} == {1}
    path.write_text("[sweep]\ngird = 1\n")
    with pytest.raises(UserError, match="unknown key sweep.gird"):
        sweep_source(None, path)


def test_the_sweep_presets_plan_their_trials():
    for name, n in (("sweep-latent-size", 36), ("sweep-beta", 21)):
        source = sweep_source(name)
        trials = plan_trials(sweep_spec(source.sweep["grid"], source.sweep["seeds"]), source.preset, source.tables)
        assert len(trials) == n and not [t for t in trials if t.error]
        assert {t.config.data.name for t in trials} == {"mnist"}
    with pytest.raises(UserError, match="sweep presets are sweep-beta, sweep-latent-size"):
        sweep_source("sweep-nothing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_address_is_one_line_in_seconds():
    import time

    t0 = time.perf_counter()
    for address in (f"127.0.0.1:{_free_port()}", f"ray://127.0.0.1:{_free_port()}"):
        with pytest.raises(UserError, match="cannot reach the Ray cluster at .*ray start --head"):
            check_reachable(address)
    assert time.perf_counter() - t0 < 10
    with pytest.raises(UserError, match="give HOST:PORT"):
        check_reachable("head-without-port")


def test_a_non_ray_server_at_the_address_is_refused():
    """A port that accepts and answers, but not as a Ray head (here: an HTTP/1 server's reply)."""
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def answer():
        conn = srv.accept()[0]
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        conn.recv(64)
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    with pytest.raises(UserError, match="it answers, but not as a Ray head does"):
        check_reachable(f"127.0.0.1:{srv.getsockname()[1]}")
    srv.close()


def test_more_resources_than_ray_has_are_refused():
    info = {"address": "local", "cpus": 2.0, "gpus": 0.0}
    check_resources(info, 1, 0)
    with pytest.raises(UserError, match="--gpus-per-trial 0.25: Ray has no GPU"):
        check_resources(info, 1, 0.25)
    with pytest.raises(UserError, match="--cpus-per-trial 4: Ray has only 2 CPUs"):
        check_resources(info, 4, 0)


def test_a_sweep_is_never_written_into_a_run_or_a_foreign_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    with pytest.raises(UserError, match="is a latentatlas run, not a sweep"):
        SweepFolder(run).check_writable()
    (tmp_path / "mine.txt").write_text("x")
    with pytest.raises(UserError, match="not a latentatlas sweep"):
        SweepFolder(tmp_path).check_writable()


def test_the_cli_refuses_a_bad_grid_without_starting_ray(capsys):
    from latentatlas.cli import main

    assert main(["sweep", "--preset", "default-vae", "--grid", "model.latnt_dim=2,4", "--out", "x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("latentatlas: error: unknown grid key")


def test_a_ray_error_keeps_the_trial_s_own_line():
    class Wrapped(Exception):
        cause = ValueError("bad value\nmore")
    assert one_line(Wrapped("ray::ImplicitFunc.train() (pid=1)\n...")) == "ValueError: bad value"
    assert one_line(UserError("the loss became NaN in epoch 1")) == "the loss became NaN in epoch 1"


def test_a_search_needs_its_trial_count_and_a_known_searcher(tmp_path):
    from latentatlas.sweeps import run_sweep
    from latentatlas.sweeps.engine import _search

    with pytest.raises(UserError, match="--search optuna needs --trials N"):
        run_sweep(tmp_path / "sw", spec_of("model.latent_dim=2,4"), preset="default-vae", search="optuna")
    assert not (tmp_path / "sw").exists()
    pytest.importorskip("ray.tune")
    with pytest.raises(UserError, match="the searchers are optuna"):
        _search("hyperopt", {"model.latent_dim": [2, 4]}, {}, 2)
    pytest.importorskip("optuna")
    how = _search("optuna", {"model.latent_dim": [2, 4], "train.seed": [0, 1]}, {}, 3)
    assert how["keys"] == ("model.latent_dim", "train.seed") and how["tune"]["num_samples"] == 3
    assert sorted(how["param_space"]["model.latent_dim"].categories) == [2, 4]


def test_an_unknown_scheduler_is_refused_in_one_line_before_anything_is_written(tmp_path, capsys):
    from latentatlas.cli import main

    out = tmp_path / "sw"
    assert main(["sweep", "--preset", "default-vae", "--grid", "model.latent_dim=2,4", "--scheduler", "hyperband",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["latentatlas: error: --scheduler 'hyperband': the schedulers are asha "
                   "(or leave it out to run every trial to the end)"], err
    assert not out.exists()


def test_sweep_reads_a_config_s_sweep_section_and_run_refuses_it_pointing_at_sweep(tmp_path, capsys):
    """`sweep --config` takes its grid from [sweep.grid] (here one point, refused before Ray:
    the proof it was read); `run --config` on the same file says to use `sweep`, in one line."""
    from latentatlas.cli import main

    path = tmp_path / "sweep.toml"
    path.write_text('[sweep]\nseeds = 1\n[sweep.grid]\n"model.latent_dim" = [4]\n[train]\nepochs = 1\n')
    assert main(["sweep", "--config", str(path), "--out", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the grid has one point (model.latent_dim=4)" in err[0]
    assert main(["run", "--config", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"use `latentatlas sweep --config {path}`" in err[0], err
    assert not (tmp_path / "r").exists() and not (tmp_path / "sw").exists()
