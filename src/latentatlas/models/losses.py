"""Reconstruction losses and the VAE objective, as per-batch sums.

Every term is summed over the pixels of an image and over the batch, so that
dividing an epoch's running sums by the number of images gives exact per-image
figures whatever the batch size. That is study 001's unit for the VAE: binary
cross-entropy summed over the 784 pixels plus the KL term, averaged over images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RECON_LOSSES = ("bce", "mse")


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Sum over pixels and batch. logits, x: (B, C, H, W); x in [0, 1]."""
    if kind == "bce":
        # Bernoulli likelihood; the with-logits form is the numerically stable one.
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    if kind == "mse":
        return F.mse_loss(torch.sigmoid(logits), x, reduction="sum")
    raise ValueError(f"unknown reconstruction loss {kind!r}; choose one of {RECON_LOSSES}")


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) summed over latent dimensions and batch. mu, logvar: (B, d).

    Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014, Appendix B:
        -KL = 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
    """
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def loss_function(logits, x, mu=None, logvar=None, recon: str = "bce", beta: float = 1.0) -> dict:
    """The objective and its parts, each summed over the batch (divide by B for per image).

    loss = reconstruction + beta * KL for a VAE (beta = 1 is the ELBO; Higgins et al.
    2017 for beta != 1), reconstruction alone for an AE. "mse" is also returned as the
    per-pixel squared error sum (divide by B*C*H*W for the mean squared error).
    """
    rec = reconstruction_loss(logits, x, recon)
    out = {"recon": rec}
    if mu is not None:
        kl = kl_divergence(mu, logvar)
        out["kl"] = kl
        out["loss"] = rec + beta * kl
    else:
        out["loss"] = rec
    if recon == "mse":
        out["sq_err"] = rec.detach()
    else:
        with torch.no_grad():
            out["sq_err"] = F.mse_loss(torch.sigmoid(logits), x, reduction="sum")
    return out
