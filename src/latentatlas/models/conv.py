"""ConvAE and ConvVAE: our own convolutional autoencoders, any latent size and image size.

Encoder: one stride-2 3x3 convolution per entry of `channels` (28 -> 14 -> 7 for
two), each followed by BatchNorm and the activation. Left out, `channels` fits the
image (`auto_channels`): 28 -> (32, 64), 32 -> (32, 64, 128), 64 -> (32, 64, 128, 256); then optional hidden linear
layers (`hidden_dim`: one width or a list of them) and a linear map to the latent
code (twice, mu and logvar, for the VAE).
The decoder mirrors it with stride-2 transposed convolutions whose output padding
is chosen so that any input size comes back exactly (28, 32, 64, odd sizes too).
Stride-2 convolutions rather than pooling keep the network small and fast on a CPU.
"""

from __future__ import annotations

from torch import nn

from .base import LatentModel, VariationalMixin

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "silu": nn.SiLU, "elu": nn.ELU, "gelu": nn.GELU}


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _conv_block(c_in: int, c_out: int, stride: int, batch_norm: bool, activation: str) -> list[nn.Module]:
    """3x3 convolution (padding 1), BatchNorm (which makes the conv's bias redundant), activation."""
    layers = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers += [nn.BatchNorm2d(c_out)]
    return layers + [_activation(activation)]


def _same_size_convs(c: int, n: int, batch_norm: bool, activation: str) -> list[nn.Module]:
    """n stride-1 3x3 convolutions at width c: depth at one resolution without shrinking it."""
    return [m for _ in range(n) for m in _conv_block(c, c, 1, batch_norm, activation)]


def hidden_widths(hidden_dim) -> list[int]:
    """The dense layers between the convolutions and the code: 0 or None -> none, 512 -> [512],
    [1024, 256] -> two (a deeper bottleneck, as in the dense autoencoders of DEC and N2D)."""
    if not hidden_dim:
        return []
    widths = [int(hidden_dim)] if isinstance(hidden_dim, (int, float)) else [int(w) for w in hidden_dim]
    if min(widths) < 1:
        raise ValueError(f"hidden_dim must be 0 (no hidden layer), a width, or a list of positive widths "
                         f"such as [1024, 256], not {hidden_dim}")
    return widths


def _down_size(n: int) -> int:
    """Output size of Conv2d(kernel 3, stride 2, padding 1)."""
    return (n + 2 * 1 - 3) // 2 + 1


MAX_AUTO_WIDTH = 256


def auto_channels(image_size) -> list[int]:
    """The conv widths for an image when none are given: one stride-2 stage while the smaller
    side is above 7 (at least one stage), widths doubling from 32 and capped at 256.

    28 -> 14 -> 7: (32, 64), the network every MNIST result was measured with;
    32 -> 4x4: (32, 64, 128); 64 -> 4x4: (32, 64, 128, 256). Stopping near 4-7 pixels keeps
    the dense layer after the convolutions small (128 * 4 * 4 = 2048 inputs for 32x32) while
    each stage's receptive field still covers the image.
    """
    side, widths = min(int(image_size[0]), int(image_size[1])), []
    while side > 7 or not widths:
        widths.append(min(32 * 2 ** len(widths), MAX_AUTO_WIDTH))
        side = _down_size(side)
    return widths


class ConvEncoder(nn.Module):
    """(B, C, H, W) -> (B, out_features); records the spatial sizes for the decoder."""

    def __init__(self, in_channels, image_size, channels, hidden_dim, out_features, batch_norm, activation,
                 convs_per_stage=1):
        super().__init__()
        layers, c_prev = [], in_channels
        h, w = image_size
        self.sizes = [(h, w)]
        for c in channels:
            layers += _conv_block(c_prev, c, 2, batch_norm, activation)
            layers += _same_size_convs(c, convs_per_stage - 1, batch_norm, activation)
            h, w = _down_size(h), _down_size(w)
            self.sizes.append((h, w))
            c_prev = c
        self.conv = nn.Sequential(*layers)
        self.flat_features = c_prev * h * w               # e.g. 64 * 7 * 7 = 3136
        head, prev = [nn.Flatten()], self.flat_features
        for width in hidden_widths(hidden_dim):
            head += [nn.Linear(prev, width), _activation(activation)]
            prev = width
        head += [nn.Linear(prev, out_features)]
        self.head = nn.Sequential(*head)

    def forward(self, x):
        return self.head(self.conv(x))                   # (B, out_features)


class ConvDecoder(nn.Module):
    """(B, d) -> (B, C, H, W) logits, mirroring a ConvEncoder."""

    def __init__(self, latent_dim, in_channels, sizes, channels, hidden_dim, batch_norm, activation,
                 final_conv, convs_per_stage=1):
        super().__init__()
        channels = list(channels)
        c_last = channels[-1]
        h, w = sizes[-1]
        self.shape = (c_last, h, w)
        stem, prev = [], latent_dim
        for width in hidden_widths(hidden_dim)[::-1] + [c_last * h * w]:   # the encoder's dense layers, mirrored
            stem += [nn.Linear(prev, width), _activation(activation)]
            prev = width
        self.stem = nn.Sequential(*stem)
        layers = []
        outs = channels[-2::-1] + [None]                  # (32, 64) -> [32, None]
        for i, c_out in enumerate(outs):
            c_in = channels[-1 - i]
            (hi, wi), (ho, wo) = sizes[-1 - i], sizes[-2 - i]
            # ConvTranspose2d(k3, s2, p1) gives 2n - 1 + output_padding: pick it to hit (ho, wo).
            pad = (ho - (2 * hi - 1), wo - (2 * wi - 1))
            layers += _same_size_convs(c_in, convs_per_stage - 1, batch_norm, activation)
            last = c_out is None
            if last and not final_conv:
                layers += [nn.ConvTranspose2d(c_in, in_channels, 3, 2, 1, output_padding=pad)]
                break
            c_out = c_in if last else c_out
            layers += [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=pad, bias=not batch_norm)]
            if batch_norm:
                layers += [nn.BatchNorm2d(c_out)]
            layers += [_activation(activation)]
        if final_conv:
            # A full-resolution 3x3 convolution sharpens the last upsampling's checkerboard.
            layers += [nn.Conv2d(channels[0], in_channels, 3, padding=1)]
        self.deconv = nn.Sequential(*layers)

    def forward(self, z):
        h = self.stem(z).view(z.shape[0], *self.shape)    # (B, 64, 7, 7) for 28x28, (B, 128, 4, 4) for 32x32
        return self.deconv(h)                             # (B, C, H, W) logits


class ConvAE(LatentModel):
    """Convolutional autoencoder: x -> z (B, latent_dim) -> reconstruction."""

    name = "ae"

    def __init__(self, latent_dim: int = 16, image_size=(28, 28), in_channels: int = 1,
                 channels=None, hidden_dim: int = 256, batch_norm: bool = True,
                 activation: str = "relu", final_conv: bool = False, loss: str = "mse", beta: float = 1.0,
                 convs_per_stage: int = 1):
        super().__init__(latent_dim=latent_dim, image_size=image_size, in_channels=in_channels,
                         loss=loss, beta=beta)
        # None: a depth that fits the image; model.json records the resolved widths, so a
        # model.json that lists them (every one written so far) rebuilds exactly as it was.
        channels = auto_channels(self.image_size) if channels is None else [int(c) for c in channels]
        if not channels:
            raise ValueError("channels must list at least one convolution width")
        if int(convs_per_stage) < 1:
            raise ValueError(f"convs_per_stage must be at least 1, got {convs_per_stage}")
        convs_per_stage = int(convs_per_stage)
        widths = hidden_widths(hidden_dim)                # validates it
        hidden_dim = widths if len(widths) > 1 else (widths[0] if widths else 0)
        self._config.update(channels=channels, hidden_dim=hidden_dim, batch_norm=bool(batch_norm),
                            activation=activation, final_conv=bool(final_conv))
        if convs_per_stage != 1:                          # keep older model.json files byte-identical
            self._config.update(convs_per_stage=convs_per_stage)
        n_out = 2 * self.latent_dim if self.is_variational else self.latent_dim
        self.encoder = ConvEncoder(self.in_channels, self.image_size, channels, hidden_dim, n_out,
                                   batch_norm, activation, convs_per_stage)
        self.decoder = ConvDecoder(self.latent_dim, self.in_channels, self.encoder.sizes, channels,
                                   hidden_dim, batch_norm, activation, final_conv, convs_per_stage)

    def encode(self, x):
        return self.encoder(x)                            # (B, d)

    def decode_logits(self, z):
        return self.decoder(z)                            # (B, C, H, W)


class ConvVAE(VariationalMixin, ConvAE):
    """Convolutional VAE: the encoder's last layer gives mu and logvar, (B, d) each."""

    name = "vae"

    def __init__(self, latent_dim: int = 10, image_size=(28, 28), in_channels: int = 1,
                 channels=None, hidden_dim: int = 256, batch_norm: bool = True,
                 activation: str = "relu", final_conv: bool = False, loss: str = "bce", beta: float = 1.0,
                 convs_per_stage: int = 1):
        super().__init__(latent_dim=latent_dim, image_size=image_size, in_channels=in_channels,
                         channels=channels, hidden_dim=hidden_dim, batch_norm=batch_norm,
                         activation=activation, final_conv=final_conv, loss=loss, beta=beta,
                         convs_per_stage=convs_per_stage)

    def encode(self, x):
        h = self.encoder(x)                               # (B, 2d)
        mu, logvar = h.chunk(2, dim=1)                    # (B, d) each
        return mu, logvar
