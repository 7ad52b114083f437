"""Reconstruction losses and the VAE objective, as per-batch sums.

Every term is summed over the values of an image (C * H * W: pixels and channels) and over
the batch, so that
dividing an epoch's running sums by the number of images gives exact per-image
figures whatever the batch size. That is study 001's unit for the VAE: binary
cross-entropy summed over the 784 pixels plus the KL term, averaged over images.
"""

from __future__ import annotations

import math

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


def loss_function(logits, x, mu=None, logvar=None, recon: str = "bce", beta: float = 1.0,
                  kl: torch.Tensor | None = None) -> dict:
    """The objective and its parts, each summed over the batch (divide by B for per image).

    loss = reconstruction + beta * KL for a VAE (beta = 1 is the ELBO; Higgins et al.
    2017 for beta != 1), reconstruction alone for an AE. "mse" is also returned as the
    per-pixel squared error sum (divide by B*C*H*W for the mean squared error).
    `kl`: a KL term computed against another prior (VaDE's mixture) replaces the N(0, I) one.
    """
    rec = reconstruction_loss(logits, x, recon)
    out = {"recon": rec}
    if mu is not None:
        kl = kl_divergence(mu, logvar) if kl is None else kl
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


# How `bits_per_dim` turns a VAE's test figures into a likelihood (metrics.json quotes it).
BPD_LIKELIHOOD = ("bits per dimension (D = C*H*W values of 256 levels): -log2 of a lower bound on p(x), "
                  "(0.5*ln(2*pi*e*s2) + KL/D) / ln 2 + log2(255), with the decoder's mean as a Gaussian "
                  "of one variance s2 = MSE + 1/(12*255^2) (its maximum-likelihood value on the test "
                  "images, uniformly dequantised) and KL the unweighted term of the ELBO")


def bits_per_dim(mse: float, kl: float, dims: int, levels: int = 256) -> float:
    """Test bits per dimension of a VAE, the unit of the CIFAR literature, from its test MSE
    per value (pixel and channel) and its KL per image.

    The likelihood: whatever the training loss (BCE or MSE), the decoder's output is taken as
    the mean of a Gaussian p(x | z) = N(decoder(z), s2 I) with one variance for every value.
    Pixels are k/255 for k in 0..255, so each level is a bin of width 1/255; adding uniform noise
    within the bin (dequantisation) adds 1/(12*255^2) to the squared error, and the variance
    that maximises the likelihood of the dequantised test images is s2 = MSE + 1/(12*255^2).
    The Gaussian's negative log-density per value is then 0.5*ln(2*pi*e*s2) nats, and by
    Jensen's inequality -log P(k) <= that - ln(1/255) per value (the bin's width). With the
    ELBO's KL (beta = 1, whatever beta trained the model) spread over the D values:

        bpd = (0.5 * ln(2*pi*e*s2) + KL / D) / ln 2 + log2(255)

    an upper bound on the discrete test likelihood's bits per value, up to s2 being fitted on
    the test images (one number). A Bernoulli (BCE) decoder gets the same Gaussian reading,
    because BCE is no density on [0, 1]; so the figure compares any two VAEs, and ours with
    Pythae's. VAEs in the literature report about 3-4.5 bits/dim on CIFAR-10 with richer decoders
    (per-pixel variances, discretised logistics); one shared variance gives a higher figure.
    """
    step = 1.0 / (levels - 1)
    s2 = float(mse) + step * step / 12.0
    nats = 0.5 * math.log(2 * math.pi * math.e * s2) + float(kl) / int(dims)
    return nats / math.log(2) + math.log2(levels - 1)


def vade_kl(z, mu, logvar, prior_logits, prior_mu, prior_logvar) -> torch.Tensor:
    """KL(q(z, c | x) || p(z, c)) of VaDE, summed over the batch.

    z, mu, logvar: (B, d), one reparameterised sample and the posterior; prior_logits (K,),
    prior_mu and prior_logvar (K, d): the mixture. q(c | x) = gamma = p(c | z) (Jiang et al.
    2017, eq. 16); the expectation over z is analytic given c (their eq. 12):

        KL = sum_c gamma_c * 0.5 * sum_d [log s2_cd + (s2_d + (mu_d - mu_cd)^2) / s2_cd]
             - 0.5 * sum_d (1 + log s2_d) + sum_c gamma_c (log gamma_c - log pi_c)

    (the log 2*pi terms of q and p cancel). gamma is computed from z, and gradients flow
    through it as in the paper's implementation.
    """
    log_pi = torch.log_softmax(prior_logits, 0)                          # (K,)
    log_gamma = mixture_log_responsibilities(z, prior_logits, prior_mu, prior_logvar)   # (B, K)
    gamma = log_gamma.exp()
    var_c = prior_logvar.exp()                                           # (K, d)
    diff2 = (mu[:, None, :] - prior_mu) ** 2                             # (B, K, d)
    cross = 0.5 * (prior_logvar + (logvar.exp()[:, None, :] + diff2) / var_c).sum(-1)     # (B, K)
    kl = (gamma * (cross + log_gamma - log_pi)).sum(1) - 0.5 * (1 + logvar).sum(1)
    return kl.sum()


def mixture_log_responsibilities(z, prior_logits, prior_mu, prior_logvar) -> torch.Tensor:
    """log p(c | z) under a diagonal Gaussian mixture, (B, K). z: (B, d); the mixture as in vade_kl."""
    log_pi = torch.log_softmax(prior_logits, 0)                                          # (K,)
    # log N(z | mu_c, s2_c) up to the constant -d/2 log(2 pi), which the softmax cancels
    log_pz_c = -0.5 * (prior_logvar + (z[:, None, :] - prior_mu) ** 2 / prior_logvar.exp()).sum(-1)
    return torch.log_softmax(log_pi + log_pz_c, dim=1)
