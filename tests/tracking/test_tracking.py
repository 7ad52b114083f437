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


def _train(path, **train):
    from latentatlas.stages.train import train_run

    cfg = TrainConfig(epochs=EPOCHS, batch_size=64, max_train_images=640, seed=0, progress_images=16, threads=1,
                      **train)
    return train_run(path, DataConfig(name="mnist-sample"), ModelConfig(name="vae", latent_dim=LATENT), cfg)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """A run trained with --tensorboard and --mlflow into a file store: (run, store uri, stderr)."""
    root = tmp_path_factory.mktemp("tracked")
    uri = (root / "mlruns").as_uri()
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    mp.setenv("LATENTATLAS_NO_BAR", "1")
    try:
        metrics = _train(root / "run", tensorboard=True, mlflow=True)
    finally:
        mp.undo()
    return {"run": root / "run", "uri": uri, "metrics": metrics}


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


def test_tensorboard_logs_scalars_images_and_the_projector_embedding(tracked):
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
    from latentatlas.stages.encode import load_latents

    copy = run.parent / "copy"
    shutil.copytree(run, copy)
    _check_embedding(log_dir, run, expect_codes=load_latents(copy)["test_mean"])


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


def test_mlflow_logs_settings_epochs_final_figures_and_the_report(tracked, monkeypatch):
    run, uri = tracked["run"], tracked["uri"]
    import json

    run_id = json.loads((run / "tracking.json").read_text())["mlflow"]["run_id"]
    client = _client(uri)
    got = client.get_run(run_id)
    assert got.info.run_name == "run" and got.info.status == "FINISHED"
    assert got.data.params["model.latent_dim"] == str(LATENT)
    assert got.data.params["data.name"] == "mnist-sample"
    assert got.data.params["train.tensorboard"] == "true"
    history = RunDir(run).read_history()
    losses = client.get_metric_history(run_id, "test_loss")
    assert sorted((m.step, m.value) for m in losses) == [(h["epoch"], pytest.approx(h["test_loss"])) for h in history]
    assert got.data.metrics["train.test_loss"] == pytest.approx(tracked["metrics"]["test_loss"])
    # `latentatlas run` ends with the report: it goes to the same MLflow run
    from latentatlas.stages.report.html import write_report
    from latentatlas.tracking import after_report

    copy = run.parent / "reported"
    shutil.copytree(run, copy)
    write_report(copy)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    after_report(copy, TrainConfig(mlflow=True))
    assert [a.path for a in client.list_artifacts(run_id)] == ["report.html"]
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
    watched = RunConfig(train=TrainConfig(tensorboard=True, mlflow=True, tensorboard_dir="tb"))
    assert fingerprint(RunDir(tmp_path), "train", plain) == fingerprint(RunDir(tmp_path), "train", watched)
    # and `[train] tensorboard = true` in a file is the --tensorboard switch
    assert resolve_sections(("train",), {"train": {"tensorboard": True}})["train"].tensorboard is True


def test_export_mlflow_logs_a_finished_run(tracked, tmp_path, monkeypatch, capsys):
    uri = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    rc, out, err = run_cli(capsys, "export", tracked["run"], "--mlflow")
    assert rc == 0, err
    run_id = out.split("mlflow: run ")[1].split()[0]
    got = _client(uri).get_run(run_id)
    assert got.data.params["model.latent_dim"] == str(LATENT)
    assert [m.step for m in _client(uri).get_metric_history(run_id, "train_loss")] == [1, 2]
    assert got.data.metrics["train.epochs"] == EPOCHS
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    assert_one_line_error(*run_cli(capsys, "export", tracked["run"], "--mlflow")[::2],
                          "the tracking server http://127.0.0.1:9 does not answer")


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
