"""TensorBoard and MLflow around training (--tensorboard, --mlflow, `latentatlas export`): the
logs are read back with the tools' own readers, and a tracker that fails never stops training."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import assert_one_line_error, run_cli
from latentatlas.rundir import RunDir
from latentatlas.settings import DataConfig, ModelConfig, TrainConfig
from latentatlas.tracking import Trackers, trackers_for

EPOCHS = 2
LATENT = 3
WANDB_POINTS = 300   # rows of the W&B table in these tests (a seeded subsample of the 2000 test codes)


def _train(path, **train):
    from latentatlas.stages.train import train_run

    cfg = TrainConfig(epochs=EPOCHS, batch_size=64, max_train_images=640, seed=0, progress_images=16, threads=1,
                      **train)
    return train_run(path, DataConfig(name="mnist-sample"), ModelConfig(name="vae", latent_dim=LATENT), cfg)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` on a free loopback port with a SQLite backend, in a tmp folder: its URL once
    it answers. Started (not awaited) first thing, so it comes up while `tracked` trains."""
    pytest.importorskip("mlflow.server", reason="the full mlflow package (latentatlas[mlflow]) runs the server")
    import os
    import subprocess

    root = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")   # no job runner: a quicker start
    with open(root / "server.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                                   "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                                   "--artifacts-destination", str(root / "artifacts"), "--workers", "1"],
                                  cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    state = {"url": f"http://127.0.0.1:{port}", "process": server, "log": root / "server.log", "up": False}
    yield state
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def _wait_until_up(state, seconds: int = 180) -> str:
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while not state["up"]:
        assert state["process"].poll() is None, state["log"].read_text()[-2000:]
        try:
            state["up"] = urllib.request.urlopen(state["url"] + "/health", timeout=5).read() == b"OK"
        except OSError:
            assert time.monotonic() < deadline, state["log"].read_text()[-2000:]
            time.sleep(0.5)
    return state["url"]


@pytest.fixture(scope="module")
def offline_wandb(tmp_path_factory):
    """W&B offline into this module's tmp folder: no account, no network, nothing under ~."""
    root = tmp_path_factory.mktemp("wandb")
    mp = pytest.MonkeyPatch()
    mp.setenv("WANDB_MODE", "offline")
    for var, sub in (("WANDB_DIR", "."), ("WANDB_DATA_DIR", "data"), ("WANDB_CACHE_DIR", "cache"),
                     ("WANDB_CONFIG_DIR", "config")):
        (root / sub).mkdir(exist_ok=True)
        mp.setenv(var, str(root / sub))
    mp.delenv("WANDB_API_KEY", raising=False)
    yield root / "wandb"
    mp.undo()


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, offline_wandb, mlflow_server):
    """A run trained with --tensorboard, --mlflow and --wandb, from a working folder with no
    MLFLOW_TRACKING_URI (so into the default store ./mlflow.db): (run, store uri, metrics).
    (mlflow_server: started first, so it comes up while this trains.)"""
    root = tmp_path_factory.mktemp("tracked")
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.setenv("LATENTATLAS_NO_BAR", "1")
    mp.chdir(root)
    mp.setattr("latentatlas.tracking.wandb.MAX_POINTS", WANDB_POINTS)   # a table of 2000 images takes seconds
    try:
        metrics = _train(root / "run", tensorboard=True, mlflow=True, wandb=True)
    finally:
        mp.undo()
    return {"run": root / "run", "root": root, "uri": f"sqlite:///{root / 'mlflow.db'}", "metrics": metrics}


@pytest.fixture(scope="module")
def encoded(tracked):
    """A copy of the tracked run with its codes (latents.npz, as `encode` writes them): (run, test codes)."""
    from latentatlas.stages.encode import load_latents

    run = tracked["root"] / "encoded"
    shutil.copytree(tracked["run"], run, ignore=shutil.ignore_patterns("tensorboard", "tracking.json"))
    return run, load_latents(run)["test_mean"]


def _events(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    return ea


def _projector(log_dir):
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    return text_format.Parse((Path(log_dir) / "projector_config.pbtxt").read_text(), ProjectorConfig())


def _check_embedding(log_dir, run, expect_codes=None):
    """One embedding: (n_test, d) codes, per point its class name and label, a sprite of the images."""
    from latentatlas.data import load_dataset

    ds = load_dataset(**RunDir(run).config_section("data"))
    config = _projector(log_dir)
    assert len(config.embeddings) == 1
    emb = config.embeddings[0]
    codes = np.loadtxt(Path(log_dir) / emb.tensor_path, delimiter="\t", ndmin=2)
    assert codes.shape == (len(ds.y_test), LATENT)
    lines = (Path(log_dir) / emb.metadata_path).read_text().splitlines()
    assert lines[0] == "class\tlabel"
    assert lines[1:] == [f"{ds.class_names[y]}\t{y}" for y in ds.y_test]
    names = lines[1:]
    assert list(emb.sprite.single_image_dim) == [28, 28]
    from PIL import Image

    with Image.open(Path(log_dir) / emb.sprite.image_path) as sprite:
        side = int(np.ceil(np.sqrt(len(names)))) * 28
        assert sprite.size == (side, side)
    if expect_codes is not None:
        np.testing.assert_allclose(codes, expect_codes, atol=1e-4)
    return codes


def test_tensorboard_logs_scalars_images_and_the_projector_embedding(tracked, encoded):
    run = tracked["run"]
    log_dir = run / "tensorboard"
    history = RunDir(run).read_history()
    ea = _events(log_dir)
    for key, tag in (("train_loss", "loss/train"), ("test_loss", "loss/test"), ("test_kl", "kl/test"),
                     ("lr", "lr/epoch")):
        events = ea.Scalars(tag)
        assert [e.step for e in events] == [1, 2]
        np.testing.assert_allclose([e.value for e in events], [h[key] for h in history], rtol=1e-6)
    # per step: every 10th of the 10 steps an epoch (640 images / 64)
    assert [e.step for e in ea.Scalars("step/loss")] == [10, 20]
    assert {"step/recon", "step/kl", "step/lr"} <= set(ea.Tags()["scalars"])
    for kind in ("samples", "recon"):
        images = ea.Images(f"progress/{kind}")
        assert [i.step for i in images] == [1, 2] and images[0].width > 28
    # the embedding: the VAE means of the test images, as `encode` computes them
    _check_embedding(log_dir, run, expect_codes=encoded[1])


def test_export_tensorboard_for_a_finished_run_and_again(tracked, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tracked["run"], run, ignore=shutil.ignore_patterns("tensorboard"))
    out = tmp_path / "tb"
    for _ in range(2):  # a second export replaces the first one's logs
        rc, stdout, err = run_cli(capsys, "export", run, "--tensorboard", out)
        assert rc == 0, err
    assert "embedding of 2000 test codes" in stdout
    assert len(list(out.glob("events.out.tfevents.*"))) == 1
    ea = _events(out)
    assert [e.step for e in ea.Scalars("loss/test")] == [1, 2]
    assert [i.step for i in ea.Images("progress/samples")] == [1, 2]
    from latentatlas.stages.encode import load_latents

    _check_embedding(out, run, expect_codes=load_latents(run)["test_mean"])


def test_export_needs_a_target_and_a_trained_run(tmp_path, capsys):
    assert_one_line_error(*run_cli(capsys, "export", tmp_path, "--tensorboard", tmp_path / "tb")[::2],
                          "config.json")
    (tmp_path / "config.json").write_text("{}")
    assert_one_line_error(*run_cli(capsys, "export", tmp_path)[::2], "--tensorboard DIR")


def _hide(monkeypatch, *modules):
    for name in list(sys.modules):
        if any(name == m or name.startswith(m + ".") for m in modules):
            monkeypatch.delitem(sys.modules, name)
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)  # `import m` raises ImportError


def test_missing_tensorboard_says_how_to_install(tracked, tmp_path, monkeypatch, capsys):
    _hide(monkeypatch, "tensorboard", "torch.utils.tensorboard")
    rc, _, err = run_cli(capsys, "export", tracked["run"], "--tensorboard", tmp_path / "tb")
    assert_one_line_error(rc, err, "pip install 'latentatlas[tensorboard]'")
    trackers = trackers_for(TrainConfig(tensorboard=True), tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    assert not trackers and len(err) == 1 and "pip install 'latentatlas[tensorboard]'" in err[0]


def test_missing_mlflow_says_how_to_install(tmp_path, monkeypatch, capsys):
    _hide(monkeypatch, "mlflow")
    trackers = trackers_for(TrainConfig(mlflow=True), tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    assert not trackers and len(err) == 1 and "pip install 'latentatlas[mlflow]'" in err[0]


def _client(uri):
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def _artefacts(client, run_id, path=None) -> set[str]:
    """Every artefact file of an MLflow run, by path."""
    out = set()
    for info in client.list_artifacts(run_id, path):
        out |= _artefacts(client, run_id, info.path) if info.is_dir else {info.path}
    return out


def _check_decoder(uri, run_id, run):
    """mlflow.pytorch.load_model gives a module that decodes as the run's own model does."""
    import mlflow
    import torch

    from latentatlas.context import open_run

    mlflow.set_tracking_uri(uri)
    decoder = mlflow.pytorch.load_model(f"runs:/{run_id}/decoder")
    z = torch.randn(5, LATENT, generator=torch.Generator().manual_seed(0))
    images = decoder(z)
    assert images.shape == (5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(images, open_run(run, device="cpu").model.decode(z), atol=1e-5, rtol=1e-4)


def _run_id(stdout: str) -> str:
    return stdout.split("mlflow: run ")[1].split()[0]


def _check_exported(client, run_id, run, epochs=EPOCHS):
    """Settings as parameters, per-epoch losses as steps, results as metrics, the run's files."""
    got = client.get_run(run_id)
    assert got.info.status == "FINISHED"
    params, metrics = got.data.params, got.data.metrics
    assert params["model.latent_dim"] == str(LATENT) and params["data.name"] == "mnist-sample"
    # what metrics.json says beside its results about the setting-up: parameters, not metrics
    assert params["train.epochs_planned"] == str(epochs) and int(params["train.n_parameters"]) > 1000
    assert not {"train.epochs_planned", "train.n_parameters", "train.latent_dim"} & set(metrics)
    assert not any(k.startswith(("model.", "data.name")) for k in metrics)
    history = RunDir(run).read_history()
    losses = client.get_metric_history(run_id, "test_loss")
    assert sorted((m.step, m.value) for m in losses) == [(h["epoch"], pytest.approx(h["test_loss"])) for h in history]
    assert metrics["train.test_loss"] == pytest.approx(RunDir(run).read_metrics()["train"]["test_loss"])
    files = _artefacts(client, run_id)
    assert {"config.json", "metrics.json", "history.jsonl", "model/model.json", "model/model.safetensors",
            f"progress/epoch_{epochs:03d}_samples.png"} <= files
    return files


def test_mlflow_defaults_to_sqlite_and_logs_the_run_the_decoder_and_the_report(tracked, monkeypatch):
    """No MLFLOW_TRACKING_URI: the SQLite store ./mlflow.db (no folder store ./mlruns), read with
    MLflow's own client; `latentatlas run`'s report goes to the same MLflow run."""
    run, uri, root = tracked["run"], tracked["uri"], tracked["root"]
    assert (root / "mlflow.db").is_file()
    # ./mlruns holds the database's artefacts (MLflow's default), not a folder store
    assert not list((root / "mlruns").rglob("meta.yaml"))
    record = RunDir(run).read_tracking()["mlflow"]
    assert record["tracking_uri"] == uri
    run_id = record["run_id"]
    client = _client(uri)
    assert client.get_run(run_id).info.run_name == "run"
    assert client.get_run(run_id).data.params["train.tensorboard"] == "true"
    _check_decoder(uri, run_id, run)
    # `latentatlas run` ends with the report: it goes to the same MLflow run, with the figures
    from latentatlas.stages.report.html import write_report
    from latentatlas.tracking import after_report

    copy = root / "reported"
    shutil.copytree(run, copy)
    write_report(copy)
    monkeypatch.chdir(root)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    after_report(copy, TrainConfig(mlflow=True))
    files = _check_exported(client, run_id, copy)
    assert {"report.html", "figures/train_loss.png", "figures/train_progress_samples.gif"} <= files
    assert "timings.report" in client.get_run(run_id).data.metrics


def test_failing_trackers_warn_once_and_training_goes_on(tmp_path, monkeypatch, capsys):
    """A TensorBoard folder that cannot be made and a tracking server that does not answer:
    one warning line each, and the run is trained in full."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("LATENTATLAS_NO_BAR", "1")
    metrics = _train(tmp_path / "run", tensorboard=True, tensorboard_dir=str(blocker), mlflow=True)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert err[0].startswith("latentatlas: warning: tensorboard logging is off: ")
    assert err[1].startswith("latentatlas: warning: mlflow logging is off: the tracking server "
                             "http://127.0.0.1:9 does not answer")
    assert metrics["completed"] and len(RunDir(tmp_path / "run").read_history()) == EPOCHS


class _Recorder:
    name = "recorder"

    def __init__(self, fail_on=None):
        self.calls, self.fail_on = [], fail_on

    def _call(self, what, *args):
        if what == self.fail_on:
            raise OSError("No space left on device")
        self.calls.append((what,) + args)

    def on_step(self, *a):
        self._call("on_step", *a)

    def on_epoch(self, *a):
        self._call("on_epoch", *a)

    def on_images(self, *a):
        self._call("on_images", *a)

    def on_finish(self, *a):
        self._call("on_finish", *a)

    def close(self):
        self.calls.append(("close",))


def test_a_tracker_failing_mid_run_is_switched_off_with_one_line(tmp_path, capsys):
    (tmp_path / "progress").mkdir()
    (tmp_path / "progress" / "epoch_002_samples.png").write_bytes(b"png")
    good, bad = _Recorder(), _Recorder(fail_on="on_epoch")
    trackers = Trackers([bad, good], tmp_path)
    trackers.on_step(1, {"loss": 1.0}, 0.1)
    for epoch in (1, 2, 3):
        trackers.on_epoch(epoch, {"epoch": epoch})
    trackers.on_finish(tmp_path, {})
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["latentatlas: warning: recorder logging is off: No space left on device; training goes on"]
    assert bad.calls == [("on_step", 1, {"loss": 1.0}, 0.1), ("close",)]
    assert [c[0] for c in good.calls] == ["on_step", "on_epoch", "on_epoch", "on_images", "on_epoch",
                                         "on_finish", "close"]
    assert good.calls[3] == ("on_images", 2, "progress/samples", tmp_path / "progress" / "epoch_002_samples.png")
    assert not trackers


def test_tracking_settings_do_not_change_the_training_fingerprint(tmp_path):
    from latentatlas.pipeline import fingerprint
    from latentatlas.settings import RunConfig, resolve_sections

    plain = RunConfig()
    watched = RunConfig(train=TrainConfig(tensorboard=True, mlflow=True, wandb=True, tensorboard_dir="tb"))
    assert fingerprint(RunDir(tmp_path), "train", plain) == fingerprint(RunDir(tmp_path), "train", watched)
    # and `[train] tensorboard = true` in a file is the --tensorboard switch
    assert resolve_sections(("train",), {"train": {"tensorboard": True}})["train"].tensorboard is True


def test_export_to_an_mlflow_server_over_http(tracked, mlflow_server, monkeypatch, capsys):
    """A real `mlflow server` (SQLite backend, proxied artefacts): everything read back over HTTP
    with MLflow's client, the decoder loaded from the server."""
    url = _wait_until_up(mlflow_server)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "over-http")
    rc, out, err = run_cli(capsys, "export", tracked["run"], "--mlflow")
    assert rc == 0, err
    run_id = _run_id(out)
    client = _client(url)
    experiment = client.get_experiment_by_name("over-http")
    assert f"open {url}/#/experiments/{experiment.experiment_id}/runs/{run_id}" in out
    _check_exported(client, run_id, tracked["run"])
    _check_decoder(url, run_id, tracked["run"])
    # the files are the server's, not this process's: they went over HTTP
    assert any((mlflow_server["log"].parent / "artifacts").rglob("model.safetensors"))


def test_export_mlflow_to_a_folder_store_the_user_names(tracked, tmp_path, monkeypatch, capsys):
    """The folder store only when named; the console says how to open it with MLflow 3."""
    uri = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    rc, out, err = run_cli(capsys, "export", tracked["run"], "--mlflow")
    assert rc == 0, err
    assert f"`MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri {uri}`" in out
    _check_exported(_client(uri), _run_id(out), tracked["run"])


def test_an_unreachable_tracking_server_is_one_line_within_seconds(tracked, monkeypatch, capsys):
    import time

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    start = time.monotonic()
    assert_one_line_error(*run_cli(capsys, "export", tracked["run"], "--mlflow")[::2],
                          "the tracking server http://127.0.0.1:9 does not answer")
    assert time.monotonic() - start < 60   # not MLflow's default of 7 retries with backoff (minutes)


def test_an_mlflow_database_that_cannot_be_written_is_one_line(tracked, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{blocker / 'mlflow.db'}")
    assert_one_line_error(*run_cli(capsys, "export", tracked["run"], "--mlflow")[::2],
                          f"MLflow could not write to sqlite:///{blocker / 'mlflow.db'}")


def test_an_mlflow_store_that_cannot_be_written_is_one_warning(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (blocker / "mlruns").as_uri())
    trackers = trackers_for(TrainConfig(mlflow=True), tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    assert not trackers and len(err) == 1 and err[0].startswith("latentatlas: warning: mlflow logging is off: ")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# All text in a frame, through the shadow roots of TensorBoard's Polymer elements.
_DEEP_TEXT = """() => { const parts = []; const walk = (n) => {
  if (n.shadowRoot) walk(n.shadowRoot);
  for (const c of n.childNodes) { if (c.nodeType === 3) parts.push(c.textContent); else walk(c); } };
  walk(document.body); return parts.join(' ').replace(/\\s+/g, ' '); }"""


def _projector_text(page, needle: str, seconds: int = 180) -> str:
    """The Projector's text (it lives in an iframe in an iframe) once it shows `needle`."""
    text = ""
    for _ in range(seconds // 2):
        frame = next((f for f in page.frames if "projector_binary.html" in f.url), None)
        if frame is not None:
            text = frame.evaluate(_DEEP_TEXT)
            if needle in text:
                return text
        page.wait_for_timeout(2000)
    raise AssertionError(f"the Projector never showed {needle!r}: {text[-500:]!r}")


def test_the_projector_tab_shows_the_embedding_in_a_browser(tracked):
    """`tensorboard --logdir` over the run's folder, its Projector tab in headless Chromium (WebGL
    through SwiftShader): the test codes load, with their images; a screenshot is kept."""
    import os
    import subprocess
    import time
    import urllib.request

    from browser_helpers import ARTIFACTS, _chromium

    exe = _chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (`make test` installs Debian's chromium when run as root)")
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(tracked["run"] / "tensorboard"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        url = f"http://127.0.0.1:{port}"
        runs = ""
        for _ in range(120):
            try:
                runs = urllib.request.urlopen(f"{url}/data/plugin/projector/runs", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(1)
        assert runs.strip() == '["."]', runs
        # the server hands the Projector each point's class name
        served = urllib.request.urlopen(f"{url}/data/plugin/projector/metadata?run=.&name=test_codes:00002",
                                        timeout=30).read().decode().splitlines()
        assert served == (tracked["run"] / "tensorboard" / "00002" / "test_codes" / "metadata.tsv").read_text().splitlines()
        assert len(served) == 1 + 2000   # the header, then one line per point
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=[
                "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/#projector", timeout=120_000)
            text = _projector_text(page, "Points: 2000")
            assert f"Dimension: {LATENT}" in text and "test_codes:00002" in text
            assert "does not have WebGL" not in text
            page.wait_for_timeout(3000)  # let the sprite images draw
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "tensorboard_projector.png"))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_run_with_tensorboard_over_a_reused_training_exports_it(tracked, tmp_path):
    """`latentatlas run --tensorboard` where training was done before (and logged nothing):
    the finished run is exported once the report is written."""
    from latentatlas.tracking import after_report

    run = tmp_path / "run"
    shutil.copytree(tracked["run"], run, ignore=shutil.ignore_patterns("tensorboard", "tracking.json"))
    after_report(run, TrainConfig(tensorboard=True))
    assert [e.step for e in _events(run / "tensorboard").Scalars("loss/test")] == [1, 2]
    _check_embedding(run / "tensorboard", run)
    stamp = [p.stat().st_mtime_ns for p in (run / "tensorboard").glob("events.out.tfevents.*")]
    after_report(run, TrainConfig(tensorboard=True))           # logs already there: left alone
    assert [p.stat().st_mtime_ns for p in (run / "tensorboard").glob("events.out.tfevents.*")] == stamp


def _wandb_records(folder) -> list[dict]:
    """An offline W&B run's records, read by wandb's own reader (`wandb leet inspect --json`)."""
    import json
    import subprocess

    done = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(folder)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _wandb_history(records) -> dict[int, dict]:
    return {int(r["history"]["item"]["_step"]): r["history"]["item"] for r in records if r["type"] == "history"}


def _wandb_table(records, folder):
    """The test-code table the run logged, and {path in it: the PNG file W&B staged for upload}."""
    import json

    (artifact,) = [r["artifact"] for r in records if r["type"] == "artifact" and r["artifact"]["type"] == "run_table"]
    files = {c["path"]: c["local_path"] for c in artifact["manifest"]["contents"]}
    return json.loads(Path(files["test_codes.table.json"]).read_text()), files


def _check_wandb_run(folder, run, report: bool):
    """Scalars per epoch, the grids, the results, and the test codes with class and image per row."""
    from PIL import Image

    from latentatlas.data import load_dataset

    records = _wandb_records(folder)
    (config,) = [r["run"]["config"] for r in records if r["type"] == "run"]
    assert config["update"]["model"]["latent_dim"] == LATENT and config["update"]["data"]["name"] == "mnist-sample"
    history, rd = _wandb_history(records), RunDir(run)
    assert sorted(history) == [1, 2]
    for row in rd.read_history():
        assert history[row["epoch"]]["loss/test"] == pytest.approx(row["test_loss"])
        assert history[row["epoch"]]["progress/samples._type"] == "image-file"
    assert (Path(folder) / "files" / history[2]["progress/samples.path"]).is_file()
    assert (Path(folder) / "files" / "media" / "html").is_dir() == report
    table, files = _wandb_table(records, folder)
    assert table["columns"] == ["index", "class", "label", "image"] + [f"z{i}" for i in range(LATENT)]
    ds = load_dataset(**rd.config_section("data"))
    index = [row[0] for row in table["data"]]
    assert len(index) == WANDB_POINTS and len(set(index)) == WANDB_POINTS and max(index) < len(ds.y_test)
    for i, name, label, image in [row[:4] for row in table["data"][:3] + table["data"][-1:]]:
        assert (name, label) == (ds.class_names[ds.y_test[i]], int(ds.y_test[i]))
        with Image.open(files[image["path"]]) as im:
            np.testing.assert_array_equal(np.asarray(im.convert("L")), ds.x_test[i, 0])
    return table


def test_wandb_offline_logs_training(tracked, encoded, offline_wandb):
    """--wandb with WANDB_MODE=offline: a folder under $WANDB_DIR/wandb, read back with wandb's reader;
    the table's codes are the VAE means `encode` computes."""
    record = RunDir(tracked["run"]).read_tracking()["wandb"]
    assert record["mode"] == "offline" and Path(record["folder"]).parent == offline_wandb
    table = _check_wandb_run(record["folder"], tracked["run"], report=False)
    np.testing.assert_allclose([r[4:] for r in table["data"]], encoded[1][[r[0] for r in table["data"]]], atol=1e-4)


def test_export_wandb_offline_with_the_report(encoded, tmp_path, monkeypatch, capsys):
    from latentatlas.stages.report.html import write_report

    monkeypatch.setattr("latentatlas.tracking.wandb.MAX_POINTS", WANDB_POINTS)
    run = tmp_path / "run"
    shutil.copytree(encoded[0], run)
    write_report(run)
    rc, out, err = run_cli(capsys, "export", run, "--wandb")
    assert rc == 0, err
    folder = RunDir(run).read_tracking()["wandb"]["folder"]
    assert f"upload it with `wandb sync {folder}`" in out
    _check_wandb_run(folder, run, report=True)


def test_missing_wandb_says_how_to_install(tracked, tmp_path, monkeypatch, capsys):
    _hide(monkeypatch, "wandb")
    assert_one_line_error(*run_cli(capsys, "export", tracked["run"], "--wandb")[::2],
                          "pip install 'latentatlas[wandb]'")
    trackers = trackers_for(TrainConfig(wandb=True), tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    assert not trackers and len(err) == 1 and "pip install 'latentatlas[wandb]'" in err[0]


def test_the_sqlite_store_without_sqlalchemy_says_what_to_install(tracked, tmp_path, monkeypatch, capsys):
    """mlflow-skinny alone (no SQLAlchemy): the default store is one line saying what to do."""
    _hide(monkeypatch, "sqlalchemy", "alembic", "mlflow.store.tracking.sqlalchemy_store", "mlflow.store.db",
          "mlflow.store.model_registry.sqlalchemy_store")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert_one_line_error(*run_cli(capsys, "export", tracked["run"], "--mlflow")[::2],
                          "needs the full mlflow package", "pip install 'latentatlas[mlflow]'")
