"""The networks of the seed studies (../shared/seeds), rebuilt so each can be reproduced.

study000-cae   convolutions + batch-norms only, 28x28 -> a 7-d code; transposed
               convolutions + batch-norms back (MSE; "loss 0.02 after 50 epochs")
study001-vae   exactly the printed VAE: conv 1->16->32 (3x3, stride 1, no padding),
               linear 18432->512->256->10 for mu and for logvar; decoder mirrored
study002-ae    Fashion-MNIST, 2-d code, Keras-style conv AE (the write-up prints no
               layers: 32/64 stride-2 convolutions, dense code, BCE, RMSprop)
study003-vae   2-d VAE on digits 1, 4, 8 (no layers printed: the Keras VAE example's
               32/64 stride-2 convolutions and a 16-unit dense layer). The preset
               study003-vae-148 uses our own VAE at beta 0.25 instead, whose mixture
               clusters are more reliable (see the preset's comment).
study004-ae    32-d AE (no layers printed: our ConvAE shape, no BatchNorm)

Where a study printed no architecture the docstring of its class says what we chose.
"""

from __future__ import annotations

from torch import nn

from .base import LatentModel, VariationalMixin
from .conv import ConvAE, ConvVAE


class Study000CAE(LatentModel):
    """Encoder of convolutions and BatchNorms only (no linear layer):
    (B,1,28,28) -> conv s2 (B,16,14,14) -> conv s2 (B,32,7,7) -> conv 7x7 valid (B,64,1,1)
    -> conv 1x1 (B,7,1,1) = the code. The decoder mirrors it with transposed convolutions."""

    name = "study000-cae"

    def __init__(self, latent_dim: int = 7, image_size=(28, 28), in_channels: int = 1,
                 loss: str = "mse", beta: float = 1.0):
        super().__init__(latent_dim=latent_dim, image_size=image_size, in_channels=in_channels,
                         loss=loss, beta=beta)
        h, w = self.image_size
        h2, w2 = (h + 1) // 2, (w + 1) // 2             # 28 -> 14
        h4, w4 = (h2 + 1) // 2, (w2 + 1) // 2           # 14 -> 7
        d = self.latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, (h4, w4)), nn.BatchNorm2d(64), nn.ReLU(),   # (B, 64, 1, 1)
            nn.Conv2d(64, d, 1),                                          # (B, d, 1, 1)
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(d, 64, 1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, (h4, w4)), nn.BatchNorm2d(32), nn.ReLU(),   # (B, 32, 7, 7)
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=(h2 - 2 * h4 + 1, w2 - 2 * w4 + 1)),
            nn.BatchNorm2d(16), nn.ReLU(),                                          # (B, 16, 14, 14)
            nn.ConvTranspose2d(16, in_channels, 3, 2, 1, output_padding=(h - 2 * h2 + 1, w - 2 * w2 + 1)),
        )

    def encode(self, x):
        return self.encoder(x).flatten(1)                 # (B, d)

    def decode_logits(self, z):
        return self.decoder(z[:, :, None, None])          # (B, C, H, W)


class Study001VAE(VariationalMixin, LatentModel):
    """The VAE printed in study 001 (ReLU between layers; the print shows none, as usual)."""

    name = "study001-vae"

    def __init__(self, latent_dim: int = 10, image_size=(28, 28), in_channels: int = 1,
                 loss: str = "bce", beta: float = 1.0):
        super().__init__(latent_dim=latent_dim, image_size=image_size, in_channels=in_channels,
                         loss=loss, beta=beta)
        h, w = self.image_size
        self.shape = (32, h - 4, w - 4)                   # two 3x3 valid convs: 28 -> 24
        flat = 32 * (h - 4) * (w - 4)                     # 18432 for 28x28
        d = self.latent_dim
        self.conv1 = nn.Conv2d(in_channels, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.linear = nn.Linear(flat, 512)
        self.linear2 = nn.Linear(512, 256)
        self.mu = nn.Linear(256, d)
        self.var = nn.Linear(256, d)                      # log-variance, named as printed
        self.dec_linear = nn.Linear(d, 256)
        self.dec_linear2 = nn.Linear(256, 512)
        self.dec_linear3 = nn.Linear(512, flat)
        self.deconv1 = nn.ConvTranspose2d(32, 16, 3)
        self.deconv2 = nn.ConvTranspose2d(16, in_channels, 3)
        self.act = nn.ReLU()

    def encode(self, x):
        a = self.act
        h = a(self.conv2(a(self.conv1(x)))).flatten(1)    # (B, 18432)
        h = a(self.linear2(a(self.linear(h))))            # (B, 256)
        return self.mu(h), self.var(h)                    # (B, d) each

    def decode_logits(self, z):
        a = self.act
        h = a(self.dec_linear3(a(self.dec_linear2(a(self.dec_linear(z))))))
        h = h.view(z.shape[0], *self.shape)               # (B, 32, 24, 24)
        return self.deconv2(a(self.deconv1(h)))           # (B, C, 28, 28)


class Study002AE(ConvAE):
    """Keras-style: Conv(32, s2) Conv(64, s2) Dense(2); Dense(7*7*64) ConvT(64) ConvT(32) Conv(1)."""

    name = "study002-ae"

    def __init__(self, latent_dim: int = 2, image_size=(28, 28), in_channels: int = 1,
                 channels=(32, 64), hidden_dim: int = 0, batch_norm: bool = False,
                 activation: str = "relu", final_conv: bool = True, loss: str = "bce", beta: float = 1.0):
        super().__init__(latent_dim, image_size, in_channels, channels, hidden_dim, batch_norm,
                         activation, final_conv, loss, beta)


class Study003VAE(ConvVAE):
    """Keras VAE example: Conv(32, s2) Conv(64, s2) Dense(16) -> 2-d mu, logvar; mirrored."""

    name = "study003-vae"

    def __init__(self, latent_dim: int = 2, image_size=(28, 28), in_channels: int = 1,
                 channels=(32, 64), hidden_dim: int = 16, batch_norm: bool = False,
                 activation: str = "relu", final_conv: bool = True, loss: str = "bce", beta: float = 1.0):
        super().__init__(latent_dim, image_size, in_channels, channels, hidden_dim, batch_norm,
                         activation, final_conv, loss, beta)


class Study004AE(ConvAE):
    """A 32-d conv AE (no BatchNorm, 128-unit dense layer), MSE."""

    name = "study004-ae"

    def __init__(self, latent_dim: int = 32, image_size=(28, 28), in_channels: int = 1,
                 channels=(32, 64), hidden_dim: int = 128, batch_norm: bool = False,
                 activation: str = "relu", final_conv: bool = False, loss: str = "mse", beta: float = 1.0):
        super().__init__(latent_dim, image_size, in_channels, channels, hidden_dim, batch_norm,
                         activation, final_conv, loss, beta)
