"""The judge's networks (estimators/classifier.py), one builder per recipe, each seeded: the same
initial weights every time. Each has `features(x)` (B, FEATURE_DIM) and `forward(x)` logits."""

from __future__ import annotations

FEATURE_DIM = 128          # penultimate-layer width: the space the FD is measured in
POOLED_SIZE = 32           # the pooled recipe's input: larger images are average-pooled to this


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> list:
    """A 3x3 convolution, BatchNorm, ReLU (no bias: BatchNorm's shift is one)."""
    from torch import nn

    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def _conv_and_head(n_classes: int, conv, feature_dim: int):
    """The colour recipes' shape: `conv` to (B, feature_dim) features, then one linear head."""
    from torch import nn

    class ConvHeadNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.n_classes = n_classes
            self.conv = conv
            self.head = nn.Linear(feature_dim, n_classes)

        def features(self, x):          # x (B, C, H, W) in [0, 1] -> (B, feature_dim), >= 0
            return self.conv(x)

        def forward(self, x):           # -> logits (B, n_classes)
            return self.head(self.features(x))

    return ConvHeadNet()


def build_grey_net(n_classes: int, feature_dim: int = FEATURE_DIM):
    """Two conv blocks and a 128-unit hidden layer: enough for >= 0.99 on MNIST,
    >= 0.91 on Fashion-MNIST, and about 10-20 s an epoch on 2 CPU cores."""
    import torch
    from torch import nn

    class JudgeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.n_classes = n_classes
            # Strided convolutions rather than conv + max-pool at full resolution: the
            # 28x28 layers dominate CPU time, and this is ~2x faster for the same accuracy.
            self.conv = nn.Sequential(
                nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),               # (B, 32, 14, 14)
                nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.BatchNorm2d(64), nn.ReLU(),  # (B, 64, 7, 7)
                nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),   # (B, 64, 7, 7)
                # Any input size ends as 7x7, so user image folders of other sizes work.
                nn.AdaptiveAvgPool2d(7),
            )
            self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, feature_dim), nn.ReLU())
            self.dropout = nn.Dropout(0.3)
            self.head = nn.Linear(feature_dim, n_classes)

        def features(self, x):          # x (B, 1, H, W) in [0, 1] -> (B, feature_dim)
            return self.hidden(self.conv(x))

        def forward(self, x):           # -> logits (B, n_classes)
            return self.head(self.dropout(self.features(x)))

    torch.manual_seed(0)
    return JudgeNet()


def build_colour_net(n_classes: int, in_channels: int = 3, feature_dim: int = FEATURE_DIM):
    """ResNet-9 (Page 2018, "How to train your ResNet": 94% on CIFAR-10 in 24 epochs at widths
    64-128-256-512) at a quarter of its widths, 16-32-64-128: 16x fewer multiply-adds (about
    24 M per 32x32 image), which makes an epoch of 50,000 images affordable on a CPU. Networks of
    this size and depth (ResNet-20: 0.27 M weights) reach about 0.90 on CIFAR-10 with crops, flips
    and a one-cycle schedule; the judge needs 0.80. Max-pools with ceil_mode and a global max-pool
    take any image size (28x28 -> 4x4 -> 1, 64x64 -> 8x8 -> 1)."""
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(*_conv_bn(c, c), *_conv_bn(c, c))

        def forward(self, x):
            return x + self.body(x)

    w = (feature_dim // 8, feature_dim // 4, feature_dim // 2, feature_dim)      # 16, 32, 64, 128
    torch.manual_seed(0)
    return _conv_and_head(n_classes, nn.Sequential(
        *_conv_bn(in_channels, w[0]),                                          # (B, 16, 32, 32)
        *_conv_bn(w[0], w[1]), nn.MaxPool2d(2, ceil_mode=True), Residual(w[1]),   # (B, 32, 16, 16)
        *_conv_bn(w[1], w[2]), nn.MaxPool2d(2, ceil_mode=True),                  # (B, 64, 8, 8)
        *_conv_bn(w[2], w[3]), nn.MaxPool2d(2, ceil_mode=True), Residual(w[3]),   # (B, 128, 4, 4)
        nn.AdaptiveMaxPool2d(1), nn.Flatten(),                                  # (B, 128)
    ), feature_dim)


def build_pooled_net(n_classes: int, in_channels: int = 3, feature_dim: int = FEATURE_DIM):
    """The judge for colour images larger than 32 px (a 64x64 folder): the image average-pooled to
    POOLED_SIZE, then five 3x3 convolutions with BatchNorm, four of them stride 2 (32 -> 16 -> 8 ->
    4 -> 2) at widths 32-64-64-128-128, and a global average pool. 0.28 M weights and 5.5 M
    multiply-adds an image forward, a fifth of the folder-64 VAE's 30 M (a training step, its
    images pooled once beforehand, costs about a fifth of the VAE's too: benchmarks/bench_judge.py),
    so that within a quarter of the VAE's training time (stages/judge.py BUDGET_SHARE) it trains
    for about as many epochs as the VAE, not the one epoch the ResNet-9 recipe got at 64x64
    (96 M multiply-adds an image)."""
    import torch
    from torch import nn

    w = (feature_dim // 4, feature_dim // 2, feature_dim // 2, feature_dim, feature_dim)    # 32, 64, 64, 128, 128
    torch.manual_seed(0)
    return _conv_and_head(n_classes, nn.Sequential(
        nn.AdaptiveAvgPool2d(POOLED_SIZE),                                      # (B, C, 32, 32)
        *_conv_bn(in_channels, w[0], 2), *_conv_bn(w[0], w[1], 2),              # (B, 64, 8, 8)
        *_conv_bn(w[1], w[2]), *_conv_bn(w[2], w[3], 2), *_conv_bn(w[3], w[4], 2),  # (B, 128, 2, 2)
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),                                  # (B, 128)
    ), feature_dim)
