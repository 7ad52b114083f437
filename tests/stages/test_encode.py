"""encode_run / load_latents / features on tiny trained runs; bad run folders."""

import shutil

import numpy as np
import pytest

from latentatlas.cli import main
from latentatlas.errors import UserError
from latentatlas.stages.encode import encode_run, features, labels, load_latents


@pytest.fixture
def run_copy(tiny_runs, tmp_path):
    def copy(kind):
        dst = tmp_path / kind
        shutil.copytree(tiny_runs[kind], dst)
        (dst / "latents.npz").unlink(missing_ok=True)
        return dst
    return copy


def test_encode_ae_writes_codes_labels_and_metrics(run_copy):
    run = run_copy("ae")
    m = encode_run(run, batch_size=500)
    assert m["kind"] == "ae" and m["latent_dim"] == 8 and m["n_train"] == 8000 and m["n_test"] == 2000
    with np.load(run / "latents.npz") as npz:
        assert set(npz.files) == {"train_mean", "test_mean", "train_labels", "test_labels", "class_names", "kind"}
        assert npz["train_mean"].shape == (8000, 8) and npz["train_mean"].dtype == np.float32
        assert npz["test_labels"].dtype == np.int64
    lat = load_latents(run)
    assert lat["kind"] == "ae" and lat["class_names"] == [str(i) for i in range(10)]
    assert features(lat, "all").shape == (10000, 8)
    assert (labels(lat, "all")[:8000] == lat["train_labels"]).all()


def test_encode_matches_the_models_embed(run_copy):
    import torch

    from latentatlas.data import load_dataset
    from latentatlas.models import load_model

    run = run_copy("vae")
    lat = load_latents(run)                                      # encodes: the file was missing
    model = load_model(run)
    x = torch.from_numpy(load_dataset("mnist-sample").x_test[:7]).float().div(255)   # (7, 1, 28, 28)
    with torch.no_grad():
        mu = model.embed(x).numpy()
    np.testing.assert_allclose(lat["test_mean"][:7], mu, rtol=1e-4, atol=1e-5)


def test_vae_features_mean_mu_logvar_and_seeded_z(run_copy):
    lat = load_latents(run_copy("vae"))
    assert lat["kind"] == "vae"
    mu = features(lat, "train")
    both = features(lat, "train", "mu+logvar")
    assert both.shape == (8000, 8)                               # latent 4: [mu, logvar]
    np.testing.assert_array_equal(both[:, :4], mu)
    np.testing.assert_array_equal(both[:, 4:], lat["train_logvar"])
    z1, z2 = features(lat, "test", "z", seed=1), features(lat, "test", "z", seed=1)
    np.testing.assert_array_equal(z1, z2)
    assert not np.allclose(z1, features(lat, "test", "z", seed=2))
    assert not np.allclose(z1, lat["test_mean"])


@pytest.mark.parametrize("kind", ["mu+logvar", "z"])
def test_vae_only_features_on_an_autoencoder_are_user_errors(run_copy, kind):
    lat = load_latents(run_copy("ae"))
    with pytest.raises(UserError, match="autoencoder"):
        features(lat, "train", kind)


def test_unknown_feature_and_split(run_copy):
    lat = load_latents(run_copy("ae"))
    with pytest.raises(UserError):
        features(lat, "train", "pixels")
    with pytest.raises(UserError):
        features(lat, "validation")


def test_encode_without_weights_is_one_line_and_writes_nothing(run_copy, capsys):
    run = run_copy("ae")
    (run / "model.safetensors").unlink()
    assert main(["encode", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("latentatlas: error:") and "model.safetensors" in err and "\n" not in err
    assert not (run / "latents.npz").exists()


def test_encode_with_truncated_weights_is_one_line_and_writes_nothing(run_copy, capsys):
    run = run_copy("vae")
    w = run / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    before = (run / "metrics.json").read_text()
    assert main(["encode", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("latentatlas: error:") and "\n" not in err
    assert not (run / "latents.npz").exists()
    assert (run / "metrics.json").read_text() == before
    assert not list(run.glob(".*tmp*"))


def test_corrupt_latents_file_is_a_user_error(run_copy):
    run = run_copy("ae")
    (run / "latents.npz").write_bytes(b"not an npz")
    with pytest.raises(UserError, match="unreadable"):
        load_latents(run)


def test_encode_command_prints_what_it_stored(run_copy, capsys):
    run = run_copy("vae")
    assert main(["encode", str(run), "--batch-size", "256"]) == 0
    out = capsys.readouterr().out
    assert "means and log-variances (vae)" in out and (run / "latents.npz").exists()


def test_encode_with_data_of_other_channels_is_one_line_and_writes_nothing(run_copy, capsys):
    """A grey run whose data settings were changed to colour: one line naming both, no traceback."""
    import json

    run = run_copy("ae")
    cfg = json.loads((run / "config.json").read_text())
    cfg["data"]["color"] = "rgb"
    (run / "config.json").write_text(json.dumps(cfg))
    assert main(["encode", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("latentatlas: error:") and "\n" not in err
    assert "28x28 grey (1 channel)" in err and "28x28 RGB (3 channels)" in err
    assert not (run / "latents.npz").exists()
