"""DenseAE: the fully connected autoencoder of the deep-clustering papers.

DEC (Xie et al. 2016), IDEC, VaDE and N2D (McConville et al. 2020) all encode images with
the same stack of dense layers, d-500-500-2000-k with ReLU, and decode with its mirror.
N2D reached its published cluster accuracies (MNIST 0.979, Fashion-MNIST 0.672) on the codes
of this network, so it is here to reproduce that recipe; on Fashion-MNIST its codes cluster
better than those of our convolutional autoencoder (benchmarks/bench_analysis.py).
The pixels are flattened: no notion of neighbourhood, any image size and channel count.
"""

from __future__ import annotations

import math

from torch import nn

from .base import LatentModel
from .conv import _activation, hidden_widths


class DenseAE(LatentModel):
    """x (B, C, H, W) -> flatten -> hidden_dim widths -> z (B, latent_dim) -> mirror -> logits."""

    name = "dense-ae"

    def __init__(self, latent_dim: int = 10, image_size=(28, 28), in_channels: int = 1,
                 hidden_dim=(500, 500, 2000), activation: str = "relu", loss: str = "mse", beta: float = 1.0):
        super().__init__(latent_dim=latent_dim, image_size=image_size, in_channels=in_channels,
                         loss=loss, beta=beta)
        widths = hidden_widths(hidden_dim)                 # validates it; [] -> a linear autoencoder
        self._config.update(hidden_dim=widths, activation=activation)
        n_pixels = self.in_channels * math.prod(self.image_size)
        enc, prev = [nn.Flatten()], n_pixels
        for w in widths:
            enc += [nn.Linear(prev, w), _activation(activation)]
            prev = w
        self.encoder = nn.Sequential(*enc, nn.Linear(prev, self.latent_dim))
        dec, prev = [], self.latent_dim
        for w in widths[::-1]:
            dec += [nn.Linear(prev, w), _activation(activation)]
            prev = w
        # No activation on the code or on the output (N2D's, and the sigmoid is the loss's).
        self.decoder = nn.Sequential(*dec, nn.Linear(prev, n_pixels))
        # Keras' defaults, which DEC and N2D trained with: Glorot-uniform weights, zero biases.
        # torch's default (uniform +-1/sqrt(fan_in)) starts the 2000-wide layers about 2x smaller;
        # with it, N2D's recipe on Fashion-MNIST reached MSE 0.0146 after 10 epochs, 0.0129 with this.
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def encode(self, x):
        return self.encoder(x)                             # (B, d)

    def decode_logits(self, z):
        return self.decoder(z).view(len(z), self.in_channels, *self.image_size)   # (B, C, H, W)
