"""What every latentatlas model shares: the API the other stages code against.

    model.latent_dim, model.is_variational
    model.encode(x)          AE -> z (B, d);  VAE -> (mu, logvar), each (B, d)
    model.embed(x)           (B, d): z for an AE, mu for a VAE (what analysis uses)
    model.decode(z)          (B, C, H, W) images in [0, 1]
    model.decode_logits(z)   pre-sigmoid output, for BCE-with-logits
    model.forward(x)         dict: "logits", "z" and, for a VAE, "mu", "logvar"
    model.loss_function(x, out)   dict of per-batch sums (see losses.py)
    model.spec()             what model.json holds to rebuild the model

Images are float32 in [0, 1], shape (B, C, H, W).
"""

from __future__ import annotations

import torch
from torch import nn

from .losses import loss_function


class LatentModel(nn.Module):
    """Base of ConvAE, ConvVAE and the study architectures.

    Subclasses build `self.encoder` (x -> features) and implement
    `encode`/`decode_logits`; `name` is the key in `latentatlas.models.MODELS`.
    """

    name: str = ""
    is_variational: bool = False

    def __init__(self, *, latent_dim: int, image_size=(28, 28), in_channels: int = 1,
                 loss: str = "bce", beta: float = 1.0):
        super().__init__()
        self.latent_dim = int(latent_dim)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.in_channels = int(in_channels)
        self.loss = loss
        self.beta = float(beta)
        # Everything needed to rebuild this model; subclasses add their own keys.
        self._config = dict(latent_dim=self.latent_dim, image_size=list(self.image_size),
                            in_channels=self.in_channels, loss=loss, beta=self.beta)

    # -- the API ----------------------------------------------------------------------
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(B, d) codes used by analysis: z for an AE, the posterior mean mu for a VAE."""
        out = self.encode(x)
        return out[0] if self.is_variational else out

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, d) -> (B, C, H, W) images in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> dict:
        z = self.encode(x)
        return {"z": z, "logits": self.decode_logits(z)}

    def loss_function(self, x: torch.Tensor, out: dict) -> dict:
        return loss_function(out["logits"], x, out.get("mu"), out.get("logvar"),
                             recon=self.loss, beta=self.beta)

    def spec(self) -> dict:
        """Contents of model.json: `build_model(model.spec())` gives the same network."""
        return {"name": self.name, "config": dict(self._config)}

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class VariationalMixin:
    """encode -> (mu, logvar); reparameterize; forward adds mu and logvar."""

    is_variational = True

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        # z = mu + sigma * eps, eps ~ N(0, I): the reparameterization trick
        # (Kingma & Welling 2014, "Auto-Encoding Variational Bayes", sec. 2.4).
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def forward(self, x: torch.Tensor) -> dict:
        mu, logvar = self.encode(x)
        # z is sampled in train and eval alike, as in pytorch/examples/vae: the test
        # loss is then the usual one-sample ELBO estimate, comparable with study 001
        # (the training loop seeds the evaluation so that it is repeatable).
        z = self.reparameterize(mu, logvar)
        return {"z": z, "mu": mu, "logvar": logvar, "logits": self.decode_logits(z)}
