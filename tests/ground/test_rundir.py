"""The run folder under faults: one atomic durable writer, normal permissions, the write lock,
and one-line errors (exit 2) that leave every finished epoch and stage usable."""

from __future__ import annotations

import errno
import json
import re
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import latentatlas.rundir as rundir
import latentatlas.rundir.atomic as atomic
from latentatlas.cli import main
from latentatlas.errors import UserError
from latentatlas.rundir import RunDir, RunLockedError, RunWriteError

SMALL_ARGS = ["--dataset", "mnist-sample", "--latent-dim", "4", "--channels", "8,16", "--hidden-dim", "32",
              "--threads", "1", "--max-train-images", "512", "--batch-size", "64"]


def temp_files(folder) -> list[str]:
    return [str(p) for p in Path(folder).rglob(".*.tmp*")]


def fail_writes(monkeypatch, when, err=errno.ENOSPC):
    """Make the atomic writer fail (OSError err) once the temporary file of a write for which
    when(target_name, count) is true holds its data; count is that target's write number."""
    real, counts = atomic._fsync_file, {}

    def fsync(tmp):
        target = Path(tmp).name[1:].rsplit(".", 3)[0]          # ".metrics.json.ab12.tmp.json" -> "metrics.json"
        counts[target] = counts.get(target, 0) + 1
        if when(target, counts[target]):
            raise OSError(err, os.strerror(err), tmp)
        return real(tmp)

    assert callable(real)
    monkeypatch.setattr(atomic, "_fsync_file", fsync)
    return counts


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert lines and lines[-1].startswith("latentatlas: error: ")
    assert sum(line.startswith("latentatlas: error") for line in lines) == 1
    return lines[-1]


# -- the writer ---------------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        rundir.atomic_write_json(tmp_path / "a.json", {"x": 1})
        rundir.atomic_save(tmp_path / "b.png", lambda tmp: Path(tmp).write_bytes(b"png"))
        rundir.write_npz(tmp_path / "c.npz", {"x": [1, 2]})
        RunDir(tmp_path / "run").write_history([{"epoch": 1}])
    finally:
        os.umask(old)
    for p in (tmp_path / "a.json", tmp_path / "b.png", tmp_path / "c.npz", tmp_path / "run" / "history.jsonl"):
        assert p.stat().st_mode & 0o777 == 0o666 & ~umask, p


def test_atomic_save_names_the_temp_file_with_the_suffix(tmp_path):
    seen = []
    rundir.atomic_save(tmp_path / "f.npz", lambda tmp: seen.append(tmp) or Path(tmp).write_bytes(b"x"))
    assert seen[0].endswith(".npz") and Path(seen[0]).parent == tmp_path and not Path(seen[0]).exists()
    assert (tmp_path / "f.npz").read_bytes() == b"x"


@pytest.mark.parametrize("err, words", [(errno.ENOSPC, "no space left"), (errno.EROFS, "the file system is read-only"),
                                         (errno.EACCES, "permission denied")])
def test_a_failed_write_keeps_the_old_file_and_removes_its_temp(tmp_path, monkeypatch, err, words):
    path = tmp_path / "metrics.json"
    rundir.atomic_write_json(path, {"old": True})
    fail_writes(monkeypatch, lambda target, n: True, err)
    with pytest.raises(RunWriteError) as info:
        rundir.atomic_write_json(path, {"new": True})
    msg = str(info.value)
    assert msg.startswith(f"could not write {path}: {words}") and errno.errorcode[err] in msg
    assert "--out" in msg and "\n" not in msg and info.value.exit_code == 2
    assert json.loads(path.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_library_writer_failing_on_the_disk_is_one_line_but_its_own_errors_pass(tmp_path):
    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(RunWriteError, match="no space left"):
        rundir.atomic_save(tmp_path / "fig.png", full)

    def bug(tmp):
        raise OSError("cannot write mode RGBA as JPEG")      # no errno: a bug, not the disk

    with pytest.raises(OSError) as info:
        rundir.atomic_save(tmp_path / "fig.png", bug)
    assert not isinstance(info.value, UserError)
    assert list(tmp_path.iterdir()) == []


# -- the lock ----------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys, time
    from latentatlas.rundir import RunDir
    with RunDir(sys.argv[1]).lock(command="latentatlas train"):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def hold(run, seconds=60.0) -> subprocess.Popen:
    """A child process holding the run's lock (returns once it holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run), str(seconds)], stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.stdout.readline().strip() == "locked"
    return proc


def try_lock_in_child(run) -> int:
    code = "import sys; from latentatlas.rundir import RunDir\nwith RunDir(sys.argv[1]).lock(): pass"
    return subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))).returncode


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    run = tmp_path / "run"
    proc = hold(run)
    try:
        with pytest.raises(RunLockedError) as info:
            with RunDir(run).lock():
                pass
        assert str(info.value) == (f"{run} is being written by PID {proc.pid} (latentatlas train); "
                                   "wait for it, or pass --wait")
        assert info.value.exit_code == 2
    finally:
        proc.kill()
        proc.wait()


def test_wait_blocks_until_the_holder_is_done(tmp_path):
    run = tmp_path / "run"
    proc = hold(run, seconds=1.5)
    t0 = time.perf_counter()
    with RunDir(run).lock(wait=True):
        waited = time.perf_counter() - t0
        assert json.loads((run / rundir.LOCK).read_text())["pid"] == os.getpid()
    assert waited > 1.0                                      # the holder kept it 1.5 s after saying so
    proc.wait()


def test_the_lock_of_a_killed_process_does_not_block(tmp_path):
    run = tmp_path / "run"
    proc = hold(run)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((run / rundir.LOCK).read_text())["pid"] == proc.pid   # the stale file is still there
    t0 = time.perf_counter()
    with RunDir(run).lock():
        assert json.loads((run / rundir.LOCK).read_text())["pid"] == os.getpid()
    assert time.perf_counter() - t0 < 2


def test_the_lock_is_reentrant_within_a_process_and_released_by_the_outermost(tmp_path):
    run = RunDir(tmp_path / "run")
    with run.lock():
        with run.lock():
            with run.lock(wait=True):                         # would deadlock if not re-entrant
                pass
        assert try_lock_in_child(run.path) != 0               # still held after the inner ones left
        run.write_config({"data": {}})
    assert try_lock_in_child(run.path) == 0
    assert not (run / rundir.LOCK).exists()                   # no lock file left in a finished run


def test_a_lock_on_a_new_folder_leaves_nothing_when_nothing_was_written(tmp_path):
    with pytest.raises(ValueError):
        with RunDir(tmp_path / "new" / "run").lock():
            raise ValueError("bad input")
    assert list(tmp_path.iterdir()) == []


def test_the_lock_refuses_a_foreign_folder_before_touching_it(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"x")
    with pytest.raises(UserError, match="not a latentatlas run"):
        with RunDir(tmp_path / "photos").lock():
            pass
    assert [p.name for p in (tmp_path / "photos").iterdir()] == ["cat.jpg"]


@pytest.mark.parametrize("command", ["train", "encode", "analyze", "run"])
def test_every_writing_stage_takes_the_lock(tiny_runs, tmp_path, capsys, command):
    run = tmp_path / "run"
    shutil.copytree(tiny_runs["ae"], run)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY_RUN)
    argv = {"train": ["train", "--resume", "--out", str(run)], "encode": ["encode", str(run)],
            "analyze": ["analyze", str(run)], "run": ["run", "--config", str(cfg), "--out", str(run)]}[command]
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != rundir.LOCK}
    proc = hold(run)
    try:
        assert main(argv) == 2
    finally:
        proc.kill()
        proc.wait()
    line = one_error_line(capsys.readouterr().err)
    assert line == f"latentatlas: error: {run} is being written by PID {proc.pid} (latentatlas train); " \
                   "wait for it, or pass --wait"
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != rundir.LOCK} == before


def test_a_stage_told_to_wait_runs_once_the_holder_is_done(tiny_runs, tmp_path):
    from latentatlas.stages.encode import encode_run

    run = tmp_path / "run"
    shutil.copytree(tiny_runs["ae"], run)
    (run / "latents.npz").unlink(missing_ok=True)
    proc = hold(run, seconds=1.5)
    t0 = time.perf_counter()
    encode_run(run, wait=True)
    assert time.perf_counter() - t0 > 1.0 and (run / "latents.npz").is_file()
    proc.wait()


def test_two_trainings_into_one_folder_a_second_apart(tmp_path):
    """The reported race: an AE and a VAE into the same --out. One trains, the other is refused
    in one line naming the first one's PID, and config.json agrees with model.json."""
    out = tmp_path / "run"
    env = dict(os.environ, LATENTATLAS_NO_BAR="1", PYTHONPATH=os.pathsep.join(sys.path))
    procs = []
    for kind in ("ae", "vae"):
        cmd = [sys.executable, "-m", "latentatlas", "train", "--dataset", "mnist-sample", "--epochs", "1",
               "--max-train-images", "256", "--model", kind, "--out", str(out)]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        time.sleep(1)
    results = [(p.pid, p.returncode, err) for p in procs for _, err in [p.communicate(timeout=300)]]
    ok = [r for r in results if r[1] == 0]
    refused = [r for r in results if r[1] != 0]
    assert len(ok) == 1 and len(refused) == 1, results
    line = one_error_line(refused[0][2])
    assert line == (f"latentatlas: error: {out} is being written by PID {ok[0][0]} (latentatlas train); "
                    "wait for it, or pass --wait")
    assert refused[0][1] == 2
    config = json.loads((out / "config.json").read_text())
    model = json.loads((out / "model.json").read_text())
    assert config["model"]["name"] == model["name"]


# -- faults through the command line -------------------------------------------------------------

def history(run) -> list[dict]:
    return RunDir(run).read_history()


def without_timing(rows):
    from latentatlas.stages.train import TIMING_KEYS

    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def test_a_full_disk_during_a_checkpoint_keeps_the_last_epoch_and_resume_finishes(tmp_path, monkeypatch,
                                                                                    capsys):
    from latentatlas.models import load_model
    from latentatlas.training.checkpoint import read_checkpoint

    run = tmp_path / "run"
    argv = ["train", *SMALL_ARGS, "--model", "vae", "--epochs", "3", "--schedule", "none", "--out", str(run)]
    with monkeypatch.context() as m:
        fail_writes(m, lambda target, n: target == "last.safetensors" and n >= 2)
        assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    ckpt = run / "checkpoint" / "last.safetensors"
    assert line.startswith(f"latentatlas: error: could not write {ckpt}: no space left on the device (ENOSPC)")
    assert line.endswith(f"{run} keeps epoch 1; then continue with `latentatlas train --out {run} --resume`")
    assert len(history(run)) == 1 and read_checkpoint(run)[2]["epoch"] == 1
    assert load_model(run).latent_dim == 4 and temp_files(run) == []
    assert not (run / rundir.LOCK).exists()

    assert main(["train", "--resume", "--out", str(run)]) == 0
    assert main([*argv[:-1], str(tmp_path / "reference")]) == 0
    assert without_timing(history(run)) == without_timing(history(tmp_path / "reference"))
    assert json.loads((run / "metrics.json").read_text())["train"]["completed"] is True


@pytest.mark.parametrize("target", ["model.safetensors", "history.jsonl", "train_loss.png", "metrics.json"])
def test_a_full_disk_after_the_last_checkpoint_is_finished_by_resume(tmp_path, monkeypatch, capsys, target):
    """The checkpoint of the last epoch is written, a later write fails: --resume has no epoch
    left to train, and writes what is missing (the weights from the checkpoint, figures, metrics)."""
    from latentatlas.models import load_model

    run = tmp_path / "run"
    with monkeypatch.context() as m:
        fail_writes(m, lambda name, n: name == target)
        assert main(["train", *SMALL_ARGS, "--model", "ae", "--epochs", "1", "--out", str(run)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"/{target}: no space left on the device (ENOSPC)" in line and "keeps epoch 1" in line
    assert temp_files(run) == []
    assert main(["train", "--resume", "--out", str(run)]) == 0
    assert load_model(run).latent_dim == 4 and len(history(run)) == 1
    train = json.loads((run / "metrics.json").read_text())["train"]
    assert train["completed"] is True and (run / train["figures"][0]["path"]).is_file()


def test_a_read_only_folder_is_one_line(tmp_path, monkeypatch, capsys):
    # Tests may run as root, whom chmod does not stop: the file system's answer is simulated.
    def read_only(path):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(atomic, "_create_temp", read_only)
    run = tmp_path / "run"
    assert main(["train", *SMALL_ARGS, "--epochs", "1", "--out", str(run)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"latentatlas: error: could not write {run / 'config.json'}: the file system is "
                           "read-only (EROFS); choose an --out folder on a writable disk")
    assert not run.exists()                                  # nothing was written, nothing is left


@pytest.fixture
def trained(tiny_runs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_runs["ae"], run)
    return run


def test_a_full_disk_during_encode_leaves_the_run_as_it_was(trained, monkeypatch, capsys):
    (trained / "latents.npz").unlink(missing_ok=True)
    metrics = (trained / "metrics.json").read_bytes()
    with monkeypatch.context() as m:
        fail_writes(m, lambda target, n: target == "latents.npz")
        assert main(["encode", str(trained)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"could not write {trained / 'latents.npz'}: no space left on the device (ENOSPC)" in line
    assert not (trained / "latents.npz").exists() and temp_files(trained) == []
    assert (trained / "metrics.json").read_bytes() == metrics
    assert main(["encode", str(trained)]) == 0 and (trained / "latents.npz").is_file()


def test_a_full_disk_during_analyze_keeps_the_finished_stages(trained, monkeypatch, capsys):
    assert main(["encode", str(trained)]) == 0
    before = json.loads((trained / "metrics.json").read_text())
    argv = ["analyze", str(trained), "--projections", "pca:2", "--probes", "knn", "--clusterers", "kmeans",
            "--no-raw", "--no-interactive", "--n-jobs", "1"]
    with monkeypatch.context() as m:
        fail_writes(m, lambda target, n: target == "probes_knn_confusion.png")
        assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "probes_knn_confusion.png: no space left on the device (ENOSPC)" in line
    after = json.loads((trained / "metrics.json").read_text())
    assert {k: after[k] for k in ("train", "encode")} == {k: before[k] for k in ("train", "encode")}
    assert "projections" in after and temp_files(trained) == []
    assert main(argv) == 0 and "probes" in json.loads((trained / "metrics.json").read_text())


def test_a_full_disk_in_the_pipeline_keeps_finished_stages_for_the_next_run(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY_RUN)
    out = tmp_path / "run"
    argv = ["run", "--config", str(cfg), "--out", str(out), "--skip", "generate"]
    with monkeypatch.context() as m:
        fail_writes(m, lambda target, n: target.startswith("probes_"))
        assert main(argv) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "probes_knn_confusion.png: no space left on the device (ENOSPC)" in line
    state = json.loads((out / "run.json").read_text())
    assert {"train", "data", "encode"} <= set(state["stages"]) and "analyze" not in state["stages"]
    assert temp_files(out) == [] and not (out / rundir.LOCK).exists()
    assert main(argv) == 0
    err = capsys.readouterr().err
    for stage in ("train", "data", "encode"):
        assert re.search(rf"^\[\d/\d\] {stage}: done before with the same settings; reused", err, re.M), err
    assert "probes" in json.loads((out / "metrics.json").read_text())


TINY_RUN = """
[data]
name = "mnist-sample"
[model]
name = "ae"
latent_dim = 4
[train]
epochs = 1
batch_size = 64
max_train_images = 400
threads = 1
progress_images = 16
[analysis]
projections = ["pca:2"]
projection_max_samples = 600
raw_baseline = false
interactive = false
quality_max_samples = 300
probes = ["knn"]
clusterers = ["kmeans"]
n_jobs = 1
"""
