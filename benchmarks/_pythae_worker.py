"""Worker for bench_pythae.py, run INSIDE the benchmark-only pythae venv.

Trains latentatlas's own network (imported from src/, so it is the very same
module) with Pythae's TrainingPipeline for one epoch and prints one JSON line:
the seconds Pythae spent in its training pass (BaseTrainer.train_step, timed by
wrapping it) and the images per second that makes.

    python _pythae_worker.py IMAGES.npy MODEL_JSON BATCH LR THREADS
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from latentatlas.models import build_model  # noqa: E402
from pythae.models import AE, VAE, AEConfig, VAEConfig  # noqa: E402
from pythae.models.base.base_utils import ModelOutput  # noqa: E402
from pythae.models.nn import BaseDecoder, BaseEncoder  # noqa: E402
from pythae.pipelines import TrainingPipeline  # noqa: E402
from pythae.trainers import BaseTrainer, BaseTrainerConfig  # noqa: E402


class Encoder(BaseEncoder):
    """latentatlas's encoder, answering in Pythae's ModelOutput vocabulary."""

    def __init__(self, net):
        super().__init__()
        self.encoder, self.variational, self.d = net.encoder, net.is_variational, net.latent_dim

    def forward(self, x):
        h = self.encoder(x)                                   # (B, d) or (B, 2d)
        if self.variational:
            mu, logvar = h.chunk(2, dim=1)
            return ModelOutput(embedding=mu, log_covariance=logvar)
        return ModelOutput(embedding=h)


class Decoder(BaseDecoder):
    def __init__(self, net):
        super().__init__()
        self.decoder = net.decoder

    def forward(self, z):
        return ModelOutput(reconstruction=torch.sigmoid(self.decoder(z)))   # (B, 1, H, W)


def main(images_path, spec_json, batch, lr, threads):
    torch.set_num_threads(int(threads))
    x = np.load(images_path).astype(np.float32) / 255.0      # (N, C, H, W), as datasets hold them
    if x.ndim == 3:                                             # a grey stack saved without its channel axis
        x = x[:, None]
    spec = json.loads(spec_json)
    net = build_model(spec)
    loss = "bce" if spec["config"].get("loss", "bce") == "bce" else "mse"
    shape = tuple(x.shape[1:])
    if net.is_variational:
        cfg = VAEConfig(input_dim=shape, latent_dim=net.latent_dim, reconstruction_loss=loss)
        model = VAE(cfg, encoder=Encoder(net), decoder=Decoder(net))
    else:
        cfg = AEConfig(input_dim=shape, latent_dim=net.latent_dim)
        model = AE(cfg, encoder=Encoder(net), decoder=Decoder(net))

    spent = []
    original = BaseTrainer.train_step

    def timed(self, epoch):
        t0 = time.perf_counter()
        out = original(self, epoch)
        spent.append(time.perf_counter() - t0)
        return out

    BaseTrainer.train_step = timed
    with tempfile.TemporaryDirectory() as out:
        tcfg = BaseTrainerConfig(output_dir=out, num_epochs=1, learning_rate=float(lr),
                                 per_device_train_batch_size=int(batch),
                                 per_device_eval_batch_size=1000, no_cuda=not torch.cuda.is_available(), steps_saving=None,
                                 optimizer_cls="Adam")
        TrainingPipeline(model=model, training_config=tcfg)(train_data=x)
    seconds = spent[0]
    print(json.dumps({"seconds": seconds, "images": len(x), "images_per_s": len(x) / seconds}))


if __name__ == "__main__":
    main(*sys.argv[1:])
