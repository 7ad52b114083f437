"""Models: shapes for every architecture and image size, the API, losses, save/load errors."""

import json
import math

import numpy as np
import pytest
import torch

from latentatlas.errors import UserError
from latentatlas.models import (MODELS, ConvAE, ConvVaDE, ConvVAE, build_model, kl_divergence, load_model,
                                loss_function, reconstruction_loss, save_model)
from latentatlas.models.conv import auto_channels
from latentatlas.models.losses import bits_per_dim


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("size,c", [(28, 1), (32, 1), (64, 1), (32, 3), (64, 3)])
@torch.no_grad()
def test_every_model_round_trips_shapes(name, size, c):
    if name == "study001-vae" and size == 64:
        pytest.skip("study 001's dense layer grows with the image (115200 x 512): 28 and 32 suffice")
    torch.manual_seed(0)
    model = MODELS[name](image_size=(size, size), in_channels=c).eval()
    x = torch.rand(3, c, size, size)
    d = model.latent_dim
    enc = model.encode(x)
    if model.is_variational:
        mu, logvar = enc
        assert mu.shape == logvar.shape == (3, d)
        assert torch.equal(model.embed(x), mu)
    else:
        assert enc.shape == (3, d)
        assert torch.equal(model.embed(x), enc)
    z = torch.randn(5, d)
    logits = model.decode_logits(z)
    img = model.decode(z)
    assert logits.shape == img.shape == (5, c, size, size)
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
    assert torch.allclose(img, torch.sigmoid(logits))
    out = model(x)
    parts = model.loss_function(x, out)
    assert parts["loss"].ndim == 0 and torch.isfinite(parts["loss"])
    assert ("kl" in parts) == model.is_variational
    assert build_model(model.spec()).spec() == model.spec() and model.spec()["config"]["in_channels"] == c


def test_depth_fits_the_image_when_channels_are_left_out():
    assert auto_channels((28, 28)) == [32, 64]                    # 28 -> 14 -> 7: MNIST's network
    assert auto_channels((32, 32)) == [32, 64, 128]               # 32 -> 16 -> 8 -> 4
    assert auto_channels((64, 64)) == [32, 64, 128, 256]          # 64 -> ... -> 4
    assert auto_channels((128, 128)) == [32, 64, 128, 256, 256]   # widths capped at 256
    assert auto_channels((7, 7)) == [32] and auto_channels((28, 64)) == [32, 64]   # the smaller side
    for size, end in [(28, (7, 7)), (32, (4, 4)), (64, (4, 4))]:
        for cls in (ConvAE, ConvVAE, ConvVaDE):
            model = cls(image_size=(size, size), in_channels=3)
            assert model.encoder.sizes[-1] == end, (cls, size)
            assert model.spec()["config"]["channels"] == auto_channels((size, size))


# model.json of the default networks on MNIST, as written before the depth rule: unchanged.
MNIST_SPECS = {
    "ae": {"latent_dim": 16, "image_size": [28, 28], "in_channels": 1, "loss": "mse", "beta": 1.0,
           "channels": [32, 64], "hidden_dim": 256, "batch_norm": True, "activation": "relu", "final_conv": False},
    "vae": {"latent_dim": 10, "image_size": [28, 28], "in_channels": 1, "loss": "bce", "beta": 1.0,
            "channels": [32, 64], "hidden_dim": 256, "batch_norm": True, "activation": "relu", "final_conv": False},
    "vade": {"latent_dim": 10, "image_size": [28, 28], "in_channels": 1, "loss": "bce", "beta": 1.0,
             "channels": [32, 64], "hidden_dim": 256, "batch_norm": True, "activation": "relu",
             "final_conv": False, "n_components": 10, "pretrain_epochs": 2},
}


def test_mnist_model_json_is_unchanged_and_older_files_rebuild_as_they_were():
    for name, config in MNIST_SPECS.items():
        assert MODELS[name]().spec() == {"name": name, "config": config}
        assert json.dumps(MODELS[name]().spec()) == json.dumps({"name": name, "config": config})   # key order too
    # A 32x32 model.json from before the rule lists (32, 64): it rebuilds with two stages, 8x8.
    old = {"name": "vae", "config": {**MNIST_SPECS["vae"], "image_size": [32, 32], "in_channels": 3}}
    model = build_model(old)
    assert model.encoder.sizes[-1] == (8, 8) and model.spec() == old


@pytest.mark.parametrize("size", [32, 64])
def test_colour_models_save_and_load(tmp_path, size):
    torch.manual_seed(4)
    model = ConvVAE(latent_dim=8, image_size=(size, size), in_channels=3, hidden_dim=0)
    model(torch.rand(4, 3, size, size))
    model.eval()
    save_model(tmp_path, model)
    spec = json.loads((tmp_path / "model.json").read_text())
    assert spec["config"]["in_channels"] == 3 and spec["config"]["image_size"] == [size, size]
    assert spec["config"]["channels"] == auto_channels((size, size))
    again = load_model(tmp_path)
    z = torch.randn(2, 8)
    with torch.no_grad():
        assert again.decode(z).shape == (2, 3, size, size)
        assert torch.equal(again.decode(z), model.decode(z))


def test_bits_per_dim_is_the_stated_formula():
    # known numbers: MSE 0.01 per value, KL 30.72 nats per image over D = 3 * 32 * 32 values
    s2 = 0.01 + 1 / (12 * 255 ** 2)
    expected = (0.5 * math.log(2 * math.pi * math.e * s2) + 30.72 / 3072) / math.log(2) + math.log2(255)
    assert bits_per_dim(0.01, 30.72, 3072) == pytest.approx(expected, rel=1e-12)
    assert bits_per_dim(0.01, 30.72, 3072) == pytest.approx(6.7340, abs=1e-3)   # by hand
    # Sanity at the two ends: a perfect reconstruction with no KL costs only the Gaussian's
    # excess over the uniform bin (0.5 * log2(2 pi e / 12) = 0.25 bits), a reconstruction as
    # far off as uniform noise (MSE 1/12) costs 8 bits plus that excess.
    assert bits_per_dim(0.0, 0.0, 3072) == pytest.approx(0.5 * math.log2(2 * math.pi * math.e / 12), rel=1e-9)
    assert bits_per_dim(1 / 12, 0.0, 784) == pytest.approx(8.2490, abs=1e-3)
    assert bits_per_dim(0.01, 100.0, 784) > bits_per_dim(0.01, 10.0, 784) > bits_per_dim(0.005, 10.0, 784)


def test_loss_is_summed_over_pixels_and_channels():
    torch.manual_seed(5)
    x = torch.rand(2, 3, 32, 32)
    logits = torch.randn(2, 3, 32, 32)
    for kind in ("bce", "mse"):
        parts = loss_function(logits, x, recon=kind)
        per_channel = sum(reconstruction_loss(logits[:, c:c + 1], x[:, c:c + 1], kind) for c in range(3))
        assert torch.allclose(parts["recon"], per_channel, rtol=1e-5)       # every channel counts, once
        assert torch.allclose(parts["sq_err"], ((torch.sigmoid(logits) - x) ** 2).sum(), rtol=1e-5)


@pytest.mark.parametrize("d", [1, 2, 128, 200])
@pytest.mark.parametrize("cls", [ConvAE, ConvVAE])
def test_latent_sizes_and_depths(cls, d):
    model = cls(latent_dim=d, channels=[8, 16, 32], image_size=(28, 28))
    assert model.latent_dim == d
    assert model.embed(torch.rand(2, 1, 28, 28)).shape == (2, d)
    assert model.decode(torch.randn(2, d)).shape == (2, 1, 28, 28)


def test_convs_per_stage_adds_same_size_convolutions():
    one = ConvAE(latent_dim=3, channels=[8, 16], hidden_dim=0)
    three = ConvAE(latent_dim=3, channels=[8, 16], hidden_dim=0, convs_per_stage=3)
    def convs(seq):
        return [m for m in seq if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    # two extra stride-1 convolutions per resolution, in the encoder and in the decoder
    assert len(convs(three.encoder.conv)) == len(convs(one.encoder.conv)) + 4
    assert len(convs(three.decoder.deconv)) == len(convs(one.decoder.deconv)) + 4
    assert all(c.stride == (1, 1) for c in convs(three.encoder.conv) if c.in_channels == c.out_channels)
    assert three.decode(torch.randn(2, 3)).shape == (2, 1, 28, 28)
    assert build_model(three.spec()).spec() == three.spec()
    assert "convs_per_stage" not in one.spec()["config"]   # older model.json files stay as they were
    with pytest.raises(UserError, match="convs_per_stage must be at least 1"):
        build_model({"name": "ae", "config": {"convs_per_stage": 0}})


def test_hidden_dim_list_gives_a_deeper_mirrored_bottleneck():
    deep = ConvAE(latent_dim=3, channels=[8, 16], hidden_dim=[64, 32])
    def widths(seq):
        return [(m.in_features, m.out_features) for m in seq if isinstance(m, torch.nn.Linear)]
    flat = 16 * 7 * 7
    assert widths(deep.encoder.head) == [(flat, 64), (64, 32), (32, 3)]
    assert widths(deep.decoder.stem) == [(3, 32), (32, 64), (64, flat)]
    assert deep.decode(deep.embed(torch.rand(2, 1, 28, 28))).shape == (2, 1, 28, 28)
    assert build_model(deep.spec()).spec() == deep.spec()
    # one width keeps its old layout, so older weights still load under the same names
    one = ConvAE(latent_dim=3, channels=[8, 16], hidden_dim=[64])
    assert one.spec()["config"]["hidden_dim"] == 64
    assert list(one.state_dict()) == list(ConvAE(latent_dim=3, channels=[8, 16], hidden_dim=64).state_dict())
    with pytest.raises(UserError, match="hidden_dim must be 0"):
        build_model({"name": "ae", "config": {"hidden_dim": [64, 0]}})


def test_dense_ae_is_the_deep_clustering_stack():
    """DEC / N2D: d-500-500-2000-k with ReLU, the decoder its mirror; any image size and channels."""
    from latentatlas.models import DenseAE

    def widths(seq):
        return [(m.in_features, m.out_features) for m in seq if isinstance(m, torch.nn.Linear)]
    net = DenseAE()
    assert widths(net.encoder) == [(784, 500), (500, 500), (500, 2000), (2000, 10)]
    assert widths(net.decoder) == [(10, 2000), (2000, 500), (500, 500), (500, 784)]
    assert isinstance(net.encoder[-1], torch.nn.Linear)          # no activation on the code
    for m in net.modules():                                      # Keras' Glorot-uniform, zero bias
        if isinstance(m, torch.nn.Linear):
            bound = math.sqrt(6 / (m.in_features + m.out_features))
            assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.95 * bound
            assert not m.bias.any()
    rgb = DenseAE(latent_dim=4, image_size=(32, 32), in_channels=3, hidden_dim=[64])
    assert rgb.decode(rgb.embed(torch.rand(2, 3, 32, 32))).shape == (2, 3, 32, 32)
    assert build_model(rgb.spec()).spec() == rgb.spec()
    with pytest.raises(UserError, match="takes no channels"):
        build_model({"name": "dense-ae", "config": {"channels": [8]}})
    with pytest.raises(UserError, match="hidden_dim must be 0"):
        build_model({"name": "dense-ae", "config": {"hidden_dim": [500, -1]}})


def test_vade_kl_matches_a_monte_carlo_estimate():
    """KL(q(z,c|x) || p(z,c)) with q(c|x) = gamma = p(c|z0) for the drawn z0 (VaDE, eq. 16),
    analytic in z given c (eq. 12): against a 200,000-draw Monte Carlo estimate."""
    from latentatlas.models.losses import vade_kl

    torch.manual_seed(4)
    d, k = 2, 3
    mu, logvar = torch.randn(1, d), torch.randn(1, d) * 0.3
    logits, pmu, plogvar = torch.randn(k), torch.randn(k, d), torch.randn(k, d) * 0.3
    z0 = mu + torch.randn(1, d) * (0.5 * logvar).exp()
    comp = torch.distributions.Normal(pmu, (0.5 * plogvar).exp())
    log_pi = torch.log_softmax(logits, 0)
    log_gamma = torch.log_softmax(comp.log_prob(z0[:, None, :]).sum(-1) + log_pi, 1)[0]   # (K,)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    z = q.sample((200_000,))[:, 0]                                                        # (S, d)
    log_pz_c = comp.log_prob(z[:, None, :]).sum(-1)                                       # (S, K)
    mc = (q.log_prob(z).sum(-1) - (log_gamma.exp() * log_pz_c).sum(-1)).mean() \
        + (log_gamma.exp() * (log_gamma - log_pi)).sum()
    assert vade_kl(z0, mu, logvar, logits, pmu, plogvar).item() == pytest.approx(mc.item(), abs=0.02)


def test_vade_fits_its_mixture_after_pretraining_and_round_trips(tmp_path):
    from latentatlas.models import ConvVaDE

    torch.manual_seed(5)
    m = ConvVaDE(latent_dim=2, channels=[4, 8], hidden_dim=16, n_components=3, pretrain_epochs=1)
    x = (torch.rand(300, 1, 28, 28) * 255).to(torch.uint8)
    xf = x[:8].float() / 255
    assert m.begin_epoch(1, x) is None and not bool(m.prior_fitted)      # still pretraining
    plain = m.loss_function(xf, m(xf))
    assert "kl" in plain and torch.isfinite(plain["loss"])
    msg = m.begin_epoch(2, x, seed=0)
    assert "3-component mixture" in msg and bool(m.prior_fitted)
    pp = m.prior_parameters()
    assert pp["weights"].sum() == pytest.approx(1.0, abs=1e-5) and pp["means"].shape == (3, 2)
    assert m.begin_epoch(3, x) is None                                   # fitted once only
    parts = m.loss_function(xf, m(xf))
    assert torch.allclose(parts["loss"], parts["recon"] + parts["kl"])
    parts["loss"].backward()
    assert m.prior_mu.grad is not None and m.prior_mu.grad.abs().sum() > 0
    probs = m.cluster_probabilities(torch.randn(5, 2))
    assert probs.shape == (5, 3) and torch.allclose(probs.sum(1), torch.ones(5))
    save_model(tmp_path, m)
    loaded = load_model(tmp_path)
    assert bool(loaded.prior_fitted) and np.allclose(loaded.prior_parameters()["means"], pp["means"])
    with pytest.raises(UserError, match="n_components must be at least 2"):
        build_model({"name": "vade", "config": {"n_components": 1}})


def test_odd_image_size_comes_back_exactly():
    model = ConvVAE(image_size=(27, 45), channels=[8, 16, 16])
    assert model.decode(torch.randn(2, 10)).shape == (2, 1, 27, 45)


def test_study001_is_the_printed_network():
    m = MODELS["study001-vae"]()
    assert (m.conv1.in_channels, m.conv1.out_channels, m.conv1.kernel_size, m.conv1.stride) == (1, 16, (3, 3), (1, 1))
    assert (m.conv2.in_channels, m.conv2.out_channels) == (16, 32)
    assert (m.linear.in_features, m.linear.out_features) == (18432, 512)
    assert (m.linear2.in_features, m.linear2.out_features) == (512, 256)
    assert (m.mu.out_features, m.var.out_features) == (10, 10)
    assert (m.dec_linear.in_features, m.dec_linear3.out_features) == (10, 18432)
    assert (m.deconv1.in_channels, m.deconv1.out_channels, m.deconv2.out_channels) == (32, 16, 1)


def test_study000_encoder_is_convolutions_and_batchnorms_only():
    m = MODELS["study000-cae"]()
    kinds = {type(layer).__name__ for layer in m.encoder}
    assert kinds <= {"Conv2d", "BatchNorm2d", "ReLU"}
    kinds = {type(layer).__name__ for layer in m.decoder}
    assert kinds <= {"ConvTranspose2d", "BatchNorm2d", "ReLU"}
    assert m.latent_dim == 7


def test_kl_matches_torch_distributions():
    torch.manual_seed(1)
    mu, logvar = torch.randn(6, 4), torch.randn(6, 4)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    expected = torch.distributions.kl_divergence(q, p).sum()
    assert torch.allclose(kl_divergence(mu, logvar), expected, atol=1e-5)


def test_loss_is_summed_over_pixels_and_batch():
    torch.manual_seed(2)
    x = torch.rand(4, 1, 28, 28)
    logits = torch.randn(4, 1, 28, 28)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    parts = loss_function(logits, x, mu, logvar, recon="bce", beta=2.0)
    bce = torch.nn.functional.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").sum()
    assert torch.allclose(parts["recon"], bce, rtol=1e-4)
    assert torch.allclose(parts["loss"], parts["recon"] + 2.0 * parts["kl"])
    mse = loss_function(logits, x, recon="mse")
    assert torch.allclose(mse["loss"], ((torch.sigmoid(logits) - x) ** 2).sum())


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(3)
    model = ConvVAE(latent_dim=6, channels=[8, 16], hidden_dim=32)
    model(torch.rand(8, 1, 28, 28))  # move BatchNorm's running statistics off their start
    save_model(tmp_path, model)
    spec = json.loads((tmp_path / "model.json").read_text())
    assert spec["name"] == "vae" and spec["config"]["latent_dim"] == 6
    loaded = load_model(tmp_path)
    assert not loaded.training and loaded.is_variational
    x = torch.rand(4, 1, 28, 28)
    model.eval()
    assert torch.equal(model.embed(x), loaded.embed(x))
    assert torch.equal(model.decode(torch.ones(2, 6)), loaded.decode(torch.ones(2, 6)))


def _saved(tmp_path):
    save_model(tmp_path, ConvAE(latent_dim=3, channels=[4, 8], hidden_dim=0))
    return tmp_path


def test_load_missing_model_json(tmp_path):
    with pytest.raises(UserError, match="no model.json"):
        load_model(tmp_path)


def test_load_missing_weights(tmp_path):
    (_saved(tmp_path) / "model.safetensors").unlink()
    with pytest.raises(UserError, match="does not exist"):
        load_model(tmp_path)


def test_load_truncated_weights(tmp_path):
    path = _saved(tmp_path) / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_model(tmp_path)


def test_load_corrupt_weights(tmp_path):
    path = _saved(tmp_path) / "model.safetensors"
    path.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(UserError, match="corrupt or truncated"):
        load_model(tmp_path)


def test_load_weights_of_another_architecture(tmp_path):
    path = _saved(tmp_path) / "model.json"
    spec = json.loads(path.read_text())
    spec["config"]["latent_dim"] = 5
    path.write_text(json.dumps(spec))
    with pytest.raises(UserError, match="another architecture"):
        load_model(tmp_path)


@pytest.mark.parametrize("spec, match", [
    ({"name": "transformer", "config": {}}, "unknown model"),
    ({"name": "vae", "config": {"latent_dim": 0}}, "latent size"),
    ({"name": "study001-vae", "config": {"channels": [8]}}, "fixed architecture"),
    ({"name": "ae", "config": {"loss": "l1"}}, "reconstruction loss"),
    ({"name": "vae", "config": {"depth": 5}}, "'vae' takes no depth"),
    ({"config": {}}, "model.json must hold"),
])
def test_build_model_rejects_bad_specs(spec, match):
    with pytest.raises(UserError, match=match):
        build_model(spec)


def test_models_dict_names_match_classes():
    assert {"ae", "vae", "dense-ae", "study000-cae", "study001-vae", "study002-ae", "study003-vae", "study004-ae"} <= set(MODELS)
    for name, cls in MODELS.items():
        assert cls.name == name
        model = cls()
        assert build_model(model.spec()).spec() == model.spec()
        assert isinstance(model.is_variational, bool)
    assert np.all([MODELS[n].is_variational for n in ("vae", "study001-vae", "study003-vae")])


def test_models_dict_is_made_from_the_registry():
    from latentatlas import registry

    assert list(MODELS) == list(registry.MODELS)          # one list of names, in one order
    for name, entry in registry.MODELS.items():
        assert MODELS[name] is entry.cls and entry.cls.name == name
        assert bool(entry.limits.get("variational")) == bool(getattr(entry.cls, "is_variational", False))

