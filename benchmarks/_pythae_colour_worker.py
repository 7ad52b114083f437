"""Worker for bench_colour.py, run INSIDE the benchmark-only Pythae environment.

Trains Pythae's VAE on the images bench_colour.py saved (x_fit). The network: with MODEL_JSON
(bench_colour.py --pythae-network ours) latentatlas's own encoder and decoder, built from our run's
model.json (the very same modules and weights count, wrapped as in _pythae_worker.py); else
Pythae's own networks for CIFAR (pythae.models.nn.benchmarks.cifar: Encoder_Conv_VAE_CIFAR /
Decoder_Conv_AE_CIFAR, 4x4 stride-2 convolutions 128-256-512-1024) when the images are 3x32x32,
else Pythae's default MLP. Pythae's own loss (reconstruction_loss "mse": 0.5 * summed squared error, KL
weight 1), Adam, no schedule. Then, with the trained model in eval mode, one sampled z per
test image (as latentatlas evaluates): the test squared error per value and the KL per image;
and the posterior means of all train (x_train) and test images, which bench_colour.py scores with
latentatlas's own probe and clustering. Writes OUT.npz and prints one JSON line.

    python _pythae_colour_worker.py IMAGES.npz OUT.npz LATENT EPOCHS BATCH LR THREADS [MODEL_JSON]
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def build(shape, latent, spec_json=None):
    from pythae.models import VAE, VAEConfig

    cfg = VAEConfig(input_dim=tuple(shape), latent_dim=int(latent), reconstruction_loss="mse")
    if spec_json:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        from _pythae_worker import Decoder, Encoder          # beside this file
        from latentatlas.models import build_model

        net = build_model(json.loads(spec_json))
        return VAE(cfg, encoder=Encoder(net), decoder=Decoder(net)), "latentatlas's network"
    if tuple(shape) == (3, 32, 32):
        from pythae.models.nn.benchmarks.cifar import Decoder_Conv_AE_CIFAR, Encoder_Conv_VAE_CIFAR

        return VAE(cfg, encoder=Encoder_Conv_VAE_CIFAR(cfg), decoder=Decoder_Conv_AE_CIFAR(cfg)), "Pythae CIFAR convnets"
    return VAE(cfg), "Pythae default MLP"


@torch.no_grad()
def measure(model, x_u8, batch=500):
    """Per value squared error (one sampled z per image), KL per image, posterior means."""
    sq, kl, means = 0.0, 0.0, []
    torch.manual_seed(3)
    for i in range(0, len(x_u8), batch):
        x = torch.as_tensor(x_u8[i:i + batch]).float() / 255
        enc = model.encoder(x)
        mu, logvar = enc.embedding, enc.log_covariance
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        recon = model.decoder(z).reconstruction.reshape(x.shape)
        sq += float(((recon - x) ** 2).sum())
        kl += float((-0.5 * (1 + logvar - mu ** 2 - logvar.exp())).sum())
        means.append(mu.numpy())
    n = len(x_u8)
    return sq / (n * x_u8[0].size), kl / n, np.concatenate(means)


def main(images, out, latent, epochs, batch, lr, threads, spec_json=None):
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    torch.set_num_threads(int(threads))
    torch.manual_seed(0)
    data = np.load(images)
    x_fit, x_train, x_test = data["x_fit"], data["x_train"], data["x_test"]     # x_fit: trained on
    model, net = build(x_train.shape[1:], latent, spec_json)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tcfg = BaseTrainerConfig(output_dir=tmp, num_epochs=int(epochs), learning_rate=float(lr),
                                 per_device_train_batch_size=int(batch), per_device_eval_batch_size=500,
                                 no_cuda=True, steps_saving=None, optimizer_cls="Adam")
        TrainingPipeline(model=model, training_config=tcfg)(train_data=x_fit.astype(np.float32) / 255)
    seconds = time.perf_counter() - t0
    model.eval()
    mse, kl, test_mean = measure(model, x_test)
    _, _, train_mean = measure(model, x_train)
    np.savez(out, train_mean=train_mean, test_mean=test_mean)
    print(json.dumps({"seconds": seconds, "mse": mse, "kl": kl, "network": net,
                      "n_parameters": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main(*sys.argv[1:])
